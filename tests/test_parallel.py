"""The parallel design (ricci_fast._parallel): fork-safe, thread-safe, bit-identical for every thread count.

The fork and threading-layer checks run in a fresh subprocess each, so that a crash (a child killed by
OpenMP after fork, an abort) fails the test instead of the test run, and so that nothing this test process
did before can hide or cause the problem.
"""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import ricci_fast as rf
from ricci_fast import _parallel
from ricci_fast.geodesics import run_bfs
from ricci_fast.kernels import bfs as _bfs
from ricci_fast.kernels import csr as _csr
from ricci_fast.kernels import forman as _forman
from ricci_fast.kernels import knn as _knn


def _run_script(code: str, timeout: int = 600, env_drop=()):
    env = {key: value for key, value in os.environ.items() if key not in env_drop}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _layers(rng, n=300, widths=(20, 16, 12)):
    X = rng.normal(size=(n, 5))
    layers = [X]
    for width in widths:
        X = np.maximum(X @ rng.normal(size=(X.shape[1], width)), 0) + 0.01 * rng.normal(size=(n, width))
        layers.append(X)
    return layers


# --- parallel_for itself --------------------------------------------------------------------------------

@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("n_items", [0, 1, 7, 100])
def test_parallel_for_covers_the_range_in_order(threads, n_items):
    seen = []
    lock = threading.Lock()

    def work(start, stop, state):
        with lock:
            seen.extend(range(start, stop))
        return (start, stop)

    out = _parallel.parallel_for(n_items, work, n_threads=threads, chunk=3)
    assert sorted(seen) == list(range(n_items))
    assert out == [(s, min(s + 3, n_items)) for s in range(0, n_items, 3)]


def test_parallel_for_scratch_is_per_thread_and_errors_propagate():
    made = []
    owners = {}

    def scratch():
        state = {"thread": threading.get_ident()}
        made.append(state)
        return state

    def work(start, stop, state):
        assert state["thread"] == threading.get_ident()  # never shared between threads
        owners[start] = state["thread"]
        return stop - start

    assert sum(_parallel.parallel_for(50, work, n_threads=4, chunk=1, scratch=scratch)) == 50
    assert 1 <= len(made) <= 4

    def failing(start, stop, state):
        if start == 5:
            raise KeyError("item 5")
        return start

    with pytest.raises(KeyError, match="item 5"):
        _parallel.parallel_for(20, failing, n_threads=3, chunk=1)


def test_min_chunk_keeps_cheap_work_on_one_thread():
    threads_used = set()

    def work(start, stop, state):
        threads_used.add(threading.get_ident())

    _parallel.parallel_for(1000, work, n_threads=4, min_chunk=1000)
    assert threads_used == {threading.get_ident()}


def test_thread_count_settings(monkeypatch):
    for bad in (0, -1, 1.5, True, "2", None):
        with pytest.raises(ValueError, match="n_threads"):
            rf.set_num_threads(bad)
        with pytest.raises(ValueError, match="n_threads"):
            with rf.num_threads(bad):
                pass
    before = rf.get_num_threads()
    try:
        rf.set_num_threads(3)
        assert rf.get_num_threads() == 3
        with rf.num_threads(1):
            assert rf.get_num_threads() == 1
            with rf.num_threads(2):
                assert rf.get_num_threads() == 2
            assert rf.get_num_threads() == 1
            other = []
            worker = threading.Thread(target=lambda: other.append(rf.get_num_threads()))
            worker.start()
            worker.join()
            assert other == [3]  # the block applies to this Python thread only
        assert rf.get_num_threads() == 3
    finally:
        rf.set_num_threads(before)
    monkeypatch.setenv("RICCI_FAST_NUM_THREADS", "5")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "7")
    assert _parallel._initial_threads() == 5
    monkeypatch.delenv("RICCI_FAST_NUM_THREADS")
    assert _parallel._initial_threads() == 7
    monkeypatch.setenv("NUMBA_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="NUMBA_NUM_THREADS"):
        _parallel._initial_threads()


# --- bit-identical for every thread count ---------------------------------------------------------------

@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(7)
    # N = 2600 > the kernels' smallest chunks, so that 2 and 3 threads really split the work
    Z = rng.normal(size=(2600, 3))
    X = np.tanh(Z @ rng.normal(size=(3, 12)))
    graph = rf.knn_graph(X, 8)
    former = rf.knn_graph(Z, 6)
    return X, Z, graph, former


def _for_each_thread_count(compute):
    results = []
    for threads in (1, 2, 3):
        with rf.num_threads(threads):
            results.append(compute())
    return results


def _assert_all_equal(results):
    first = results[0]
    for other in results[1:]:
        if isinstance(first, tuple):
            for a, b in zip(first, other):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(first, other)


def test_bfs_bit_identical_across_thread_counts(graphs):
    _, _, graph, former = graphs
    _assert_all_equal(_for_each_thread_count(lambda: run_bfs(graph, targets=former)))
    _assert_all_equal(_for_each_thread_count(lambda: rf.geodesic_sums(graph)))
    _assert_all_equal(_for_each_thread_count(lambda: rf.former_neighbour_distances(graph, former)))
    _assert_all_equal(_for_each_thread_count(lambda: rf.sampled_geodesic_sum(graph, 700, seed=3).estimate))


@pytest.mark.parametrize("kind", ["forman", "augmented_forman", "approx_ollivier", "lower_ricci",
                                  "jost_liu_lower", "jost_liu_upper", "balanced_forman"])
def test_curvature_bit_identical_across_thread_counts(graphs, kind):
    graph = graphs[2]
    results = _for_each_thread_count(lambda: rf.edge_curvature(graph, kind))
    _assert_all_equal(results)
    _assert_all_equal(_for_each_thread_count(lambda: rf.node_curvature(graph, results[0])))


@pytest.mark.parametrize("method", ["brute", "kdtree"])
def test_knn_bit_identical_across_thread_counts(graphs, method):
    X, Z, _, _ = graphs
    data = X if method == "brute" else Z
    results = _for_each_thread_count(lambda: rf.knn_graph(data, 10, method=method))
    for other in results[1:]:
        np.testing.assert_array_equal(other.knn_indices, results[0].knn_indices)
        np.testing.assert_array_equal(other.knn_distances, results[0].knn_distances)
        np.testing.assert_array_equal(other.indptr, results[0].indptr)
        np.testing.assert_array_equal(other.indices, results[0].indices)


def test_kernel_drivers_take_explicit_thread_counts(graphs):
    X, _, graph, former = graphs
    order = graph.bfs_order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    indptr, indices, _ = _csr.relabel(graph.indptr, graph.indices, order, rank)
    sources = np.arange(graph.n_nodes, dtype=np.int64)
    empty = np.zeros(graph.n_nodes + 1, np.int64)
    one = _bfs.multi_source_bfs(indptr, indices, sources, True, empty, np.zeros(0, np.int32), _bfs.AUTO, 1)
    three = _bfs.multi_source_bfs(indptr, indices, sources, True, empty, np.zeros(0, np.int32), _bfs.AUTO, 3)
    _assert_all_equal([one, three])
    tri = _forman.edge_triangles(graph.indptr, graph.indices, 1)
    np.testing.assert_array_equal(tri, _forman.edge_triangles(graph.indptr, graph.indices, 3))
    np.testing.assert_array_equal(_forman.balanced_forman(graph.indptr, graph.indices, tri, 1),
                                  _forman.balanced_forman(graph.indptr, graph.indices, tri, 3))
    rows = np.arange(0, X.shape[0], 7, dtype=np.int64)
    out = [(np.empty((rows.size, 5), np.int32), np.empty((rows.size, 5))) for _ in range(2)]
    _knn.rows_exact_topk(X, rows, 5, *out[0], n_threads=1)
    _knn.rows_exact_topk(X, rows, 5, *out[1], n_threads=3)
    _assert_all_equal([out[0], out[1]])
    np.testing.assert_array_equal(out[0][0], graph.knn_indices[rows, :5])


_ONE_SIGNATURE_CHILD = """
import json
import numpy as np
import ricci_fast as rf
from ricci_fast.kernels import bfs as _bfs, connected as _connected, csr as _csr, forman as _forman, knn as _knn

rng = np.random.default_rng(7)
Z = rng.normal(size=(2600, 3))
X = np.tanh(Z @ rng.normal(size=(3, 12)))
graph = rf.knn_graph(X, 8)
former = rf.knn_graph(Z, 6)
for kind in ("approx_ollivier", "balanced_forman", "lower_ricci"):
    rf.edge_curvature(graph, kind)
rf.layer_curvature(X[:500], 6)
rf.former_neighbour_distances(graph, former)
rf.knn_graph(X[:300, :3], 5, method="kdtree")
# read-only arrays (np.load(mmap_mode="r"), Dask) are another Numba type: they must not compile again
indptr, indices = graph.indptr.copy(), graph.indices.copy()
indptr.flags.writeable = False
indices.flags.writeable = False
frozen = rf.Graph(indptr, indices)
assert np.array_equal(rf.geodesic_sums(frozen), rf.geodesic_sums(graph))
for kind in ("approx_ollivier", "balanced_forman"):
    assert np.array_equal(rf.edge_curvature(frozen, kind), rf.edge_curvature(graph, kind))
kernels = [_bfs.bfs_batches_touched, _forman.edge_triangles_range, _forman.combinatorial_curvature_range,
           _forman.balanced_forman_range, _csr.row_means_range, _csr._upper_triangle_sum,
           _knn.brute_block_topk, _knn.refine_candidates_range, _connected.component_labels]
print("SIGNATURES" + json.dumps({k.py_func.__name__: [str(s) for s in k.signatures] for k in kernels}))
"""


def test_every_kernel_has_one_signature():
    """One type specialisation per kernel keeps the first call's compile time down.  Counted in a fresh
    interpreter that makes only the library's own calls: tests that call kernels directly with other
    array types would otherwise add signatures depending on the order the tests ran in."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _ONE_SIGNATURE_CHILD], capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("SIGNATURES"))
    # (functions called only from other kernels are compiled into their callers, so a cached caller leaves
    # their dispatchers empty: only the kernels called from Python are checked)
    for name, signatures in json.loads(line[len("SIGNATURES"):]).items():
        assert len(signatures) == 1, (name, signatures)


_NO_LITERAL_CHILD = """
import importlib, json, pkgutil
import numpy as np
from numba.core.registry import CPUDispatcher
import ricci_fast as rf
import ricci_fast.kernels as kernels

rng = np.random.default_rng(0)
X = np.tanh(rng.normal(size=(120, 3)) @ rng.normal(size=(3, 12)))
lengths = rf.knn_graph(X, 8, weighted=True)
rf.weighted_ollivier_ricci(lengths, 0.5, mass="grc")
rf.discrete_ricci_flow(lengths, iterations=2)
# the exact unweighted path on a graph with a hub (degree 80, twin leaves): all three range kernels
leaves = np.arange(1, 81)
edges = np.concatenate([np.stack([np.zeros(80, np.int64), leaves], 1), np.stack([leaves[:-1:2], leaves[1::2]], 1),
                        [[1, 81], [81, 82]]])
hub = rf.Graph.from_edges(edges, 83)
rf.ollivier_ricci(hub)
from ricci_fast.ollivier import _exact
_exact(hub, 0.0, max_words=1)
rf.ollivier_ricci(rf.knn_graph(X, 8))
found = {}
for info in pkgutil.iter_modules(kernels.__path__):
    module = importlib.import_module("ricci_fast.kernels." + info.name)
    for name, obj in vars(module).items():
        if isinstance(obj, CPUDispatcher):
            bad = [str(s) for s in obj.signatures if any("Literal" in str(t) for t in s)]
            if bad:
                found[info.name + "." + name] = bad
print("LITERAL" + json.dumps(found))
"""


def test_no_kernel_is_compiled_for_a_literal_counter(tmp_path):
    """A counter that starts at the literal 0 and is passed to a callee made Numba compile the callee (and
    everything below it) twice, once for Literal[int](0): half of the first weighted Ollivier-Ricci
    call's compile time.  Callees are visible only when compiled, so this runs with an empty cache, on
    the weighted path and the exact unweighted one (its solvers are C callbacks, compiled here too)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _NO_LITERAL_CHILD], capture_output=True, text=True, check=True,
                          env=env)
    line = next(line for line in done.stdout.splitlines() if line.startswith("LITERAL"))
    assert json.loads(line[len("LITERAL"):]) == {}


# --- thread safety --------------------------------------------------------------------------------------

def test_concurrent_flows_give_the_serial_result():
    layers = _layers(np.random.default_rng(11))
    with rf.num_threads(1):
        serial = rf.ricci_flow(layers, 7, progress=False)
    results = [None] * 4
    errors = []

    def run(slot):
        try:
            results[slot] = rf.ricci_flow(layers, 7, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for result in results:
        assert result.global_coefficient == serial.global_coefficient
        for name in ("total_curvature", "geodesic_sum", "layer_coefficients", "local_coefficients"):
            assert np.array_equal(getattr(result, name), getattr(serial, name), equal_nan=True), name


def test_transport_solvers_are_built_once_under_threads(monkeypatch):
    # the exact Ollivier-Ricci path builds its two C-callback solvers on first use, possibly from several
    # threads at once: each must be built once and every thread must get that one
    from ricci_fast.kernels import transport_solvers

    monkeypatch.setattr(transport_solvers, "_built", {})
    built = []
    real_cfunc = transport_solvers.cfunc

    def counting_cfunc(*args, **kwargs):
        built.append(args[0])
        return real_cfunc(*args, **kwargs)

    monkeypatch.setattr(transport_solvers, "cfunc", counting_cfunc)
    barrier = threading.Barrier(6)
    got = [None] * 6

    def run(slot):
        barrier.wait()
        got[slot] = (transport_solvers.word_solver(), transport_solvers.bitset_solver())

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 2
    assert all(pair[0] is got[0][0] and pair[1] is got[0][1] for pair in got)
    assert got[0][0].address != got[0][1].address


# --- fork safety and no OpenMP --------------------------------------------------------------------------

_FLOW = """
import numpy as np
import ricci_fast as rf
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
layers = [X, np.maximum(X @ rng.normal(size=(5, 16)), 0), np.maximum(X @ rng.normal(size=(5, 12)), 0)]
CURVATURES = {curvatures!r}
for kind in CURVATURES:
    rf.ricci_flow(layers, 6, curvature=kind, progress=False)
"""

# after the flows: DataLoader fork workers that call the library themselves (as a dataset computing
# curvature features would), for two epochs, and a forked Process that runs the same flows
_FORK_CHECKS = """
import multiprocessing as mp
import torch
from torch.utils.data import DataLoader, Dataset

class Curvatures(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        kind = CURVATURES[i % len(CURVATURES)]
        layer = rf.layer_curvature(layers[1], 6, curvature=kind)
        return torch.tensor(layer.total_curvature, dtype=torch.float64)

expected = [float(rf.layer_curvature(layers[1], 6, curvature=CURVATURES[i % len(CURVATURES)]).total_curvature)
            for i in range(8)]
loader = DataLoader(Curvatures(), batch_size=2, num_workers=2, multiprocessing_context="fork")
for epoch in range(2):
    got = [float(v) for batch in loader for v in batch]
    assert got == expected, (got, expected)

def child():
    for kind in CURVATURES:
        rf.ricci_flow(layers, 6, curvature=kind, progress=False)

process = mp.get_context("fork").Process(target=child)
process.start()
process.join(300)
assert process.exitcode == 0, process.exitcode
print("FORK OK")
"""


def test_fork_after_forman_flow():
    pytest.importorskip("torch")
    done = _run_script(_FLOW.format(curvatures=("forman", "augmented_forman", "balanced_forman")) + _FORK_CHECKS)
    assert done.returncode == 0 and "FORK OK" in done.stdout, done.stderr[-3000:]


def test_fork_after_forman_and_ollivier_flows():
    """After Forman and Ollivier-Ricci flows (no kernel uses OpenMP), fork workers still run."""
    pytest.importorskip("torch")
    done = _run_script(_FLOW.format(curvatures=("forman", "ollivier")) + _FORK_CHECKS)
    assert done.returncode == 0 and "FORK OK" in done.stdout, done.stderr[-3000:]


def test_no_numba_threading_layer_started():
    done = _run_script(_FLOW.format(curvatures=("forman", "augmented_forman", "approx_ollivier")) + """
rf.edge_curvature(rf.knn_graph(X, 6), "balanced_forman")
rf.knn_graph(X[:, :3], 6)
rf.sampled_geodesic_sum(rf.knn_graph(X, 6), 128, seed=0)
import numba.np.ufunc.parallel as numba_parallel
print("INITIALISED", numba_parallel._is_initialized)
""", env_drop=("NUMBA_THREADING_LAYER",))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "INITIALISED False" in done.stdout


def test_warmup_times_every_stage(capsys):
    from ricci_fast.warmup import warmup

    times = warmup(progress=True)
    assert {"knn (brute force)", "Forman layer", "geodesics", "Ollivier-Ricci (exact)", "total"} <= set(times)
    assert all(seconds >= 0 for seconds in times.values())
    assert times["total"] >= max(seconds for name, seconds in times.items() if name != "total")
    assert "Forman layer" in capsys.readouterr().out
