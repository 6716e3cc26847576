"""One big layer out of core and across a Dask cluster: every stage equals the local code, bit for bit."""

import pickle
import warnings

import numpy as np
import pytest

import ricci_fast as rf
from ricci_fast import _arrays, knn_blocks
from ricci_fast.geodesics import former_neighbour_distances
from ricci_fast.kernels import bfs as _bfs

FLOW_FIELDS = ("total_curvature", "geodesic_sum", "eta", "layer_coefficients", "local_coefficients", "node_eta",
               "node_curvature", "layer_points_skipped", "n_joined_edges")


def tied_points(n, d, seed):
    """Rounded values (many equal distances), a block of duplicates and an all-zero row."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, d)), 1).astype(np.float32)
    X[n // 4: n // 4 + 30] = X[3]
    X[n // 2] = 0
    return X


def same_graph(a, b):
    return (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.knn_indices, b.knn_indices) and np.array_equal(a.knn_distances, b.knn_distances))


def as_memmap(X, tmp_path, name="x"):
    path = tmp_path / f"{name}.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


# --- out of core, on one machine ------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "sqeuclidean"])
@pytest.mark.parametrize("candidate_rows", [97, 256, 1000])
def test_block_search_equals_in_memory_search(metric, candidate_rows):
    X = tied_points(900, 11, 1)
    if metric == "cosine":
        X[450] = 1  # no all-zero rows for cosine
    expected = rf.knn_graph(X, 12, metric=metric)
    source = _arrays.RowSource(X)
    stats = _arrays.scan(source)
    idx = np.empty((900, 12), np.int32)
    sq = np.empty((900, 12))
    for start in range(0, 900, 301):  # query ranges that do not line up with the candidate blocks
        stop = min(900, start + 301)
        idx[start:stop], sq[start:stop] = knn_blocks.knn_rows(source, stats, 12, metric, start, stop,
                                                               candidate_rows=candidate_rows)
    assert np.array_equal(idx, expected.knn_indices)
    graph = rf.graph._finish_graph(idx, sq, knn_blocks.exponent_of(stats, metric), 12, metric, "union", "brute",
                                   None)
    assert same_graph(graph, expected)


@pytest.mark.parametrize("tile, gram_bytes", [(7, 4 * 7 * 16), (16, 4 * 16 * 20), (40, 4 * 40 * 33), (4096, 2**20)])
def test_tiles_inside_a_candidate_block_give_the_same_table(monkeypatch, tile, gram_bytes):
    """Read blocks searched a GEMM tile at a time (tiles narrower than k, than LANES, not dividing the
    block; several query sub-blocks): the in-memory table bit for bit, on tied and duplicated points."""
    monkeypatch.setattr(knn_blocks, "GEMM_TILE_COLUMNS", tile)
    monkeypatch.setattr(knn_blocks, "GRAM_BLOCK_BYTES", gram_bytes)
    X = tied_points(700, 9, 3)
    expected = rf.knn_graph(X, 12)
    source = _arrays.RowSource(X)
    stats = _arrays.scan(source)
    idx, sq = knn_blocks.knn_rows(source, stats, 12, "euclidean", 0, 700, candidate_rows=250)
    graph = rf.graph._finish_graph(idx, sq, knn_blocks.exponent_of(stats, "euclidean"), 12, "euclidean", "union",
                                   "brute", None)
    assert same_graph(graph, expected)
    part, part_sq = knn_blocks.knn_rows(source, stats, 12, "euclidean", 123, 456, candidate_rows=250)
    assert np.array_equal(part, idx[123:456]) and np.array_equal(part_sq, sq[123:456])


def test_block_search_equals_a_plain_loop_search(monkeypatch):
    """Against the independent oracle (tests/reference.py: float64 differences, lexsort): untied points,
    small tiles and blocks, every row."""
    from reference import knn_lists

    monkeypatch.setattr(knn_blocks, "GEMM_TILE_COLUMNS", 33)
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(size=(200, 6)), rng.normal(size=(200, 6)) * 1e-3 + 5])  # two scales
    source = _arrays.RowSource(X)
    stats = _arrays.scan(source)
    idx, _ = knn_blocks.knn_rows(source, stats, 10, "euclidean", 0, 400, candidate_rows=101)
    assert idx.tolist() == knn_lists(X, 10)


def test_magnitude_and_dtypes_match_the_in_memory_rules(tmp_path):
    rng = np.random.default_rng(2)
    for X in (rng.normal(size=(300, 10)) * 1e-30, rng.normal(size=(300, 10)) * 1e25,
              rng.integers(-2**20, 2**20, size=(300, 10)).astype(np.int64),
              rng.integers(-5, 5, size=(300, 10)).astype(np.int8), rng.normal(size=(300, 2, 5)).astype(np.float16)):
        mm = as_memmap(X, tmp_path)
        assert same_graph(rf.knn_graph(mm, 7), rf.knn_graph(X, 7)), X.dtype


def test_memmap_views_and_pickled_sources_read_the_right_rows(tmp_path):
    X = np.arange(5000, dtype=np.float64).reshape(500, 10)
    mm = as_memmap(X, tmp_path)
    view = mm[123:456]
    source = pickle.loads(pickle.dumps(_arrays.RowSource(view)))
    assert len(pickle.dumps(_arrays.RowSource(view))) < 1000  # a description, not the data
    assert np.array_equal(source.read(0, 333), X[123:456]) and np.array_equal(source.read(10, 20), X[133:143])
    assert same_graph(rf.knn_graph(view, 5), rf.knn_graph(X[123:456], 5))


def test_zarr_and_dask_layers(tmp_path):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    X = tied_points(700, 12, 3)
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(128, 12), dtype=X.dtype)
    z[:] = X
    expected = rf.knn_graph(X, 9)
    assert same_graph(rf.knn_graph(z, 9), expected)
    assert same_graph(rf.knn_graph(da.from_array(X, chunks=(100, 6)), 9), expected)
    assert _arrays.RowSource(z).kind == "zarr"


def test_bad_out_of_core_layers_are_refused_with_their_rows(tmp_path):
    X = np.random.default_rng(4).normal(size=(400, 10))
    X[321, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*row 321"):
        rf.knn_graph(as_memmap(X, tmp_path), 5)
    with pytest.raises(ValueError, match="1-D"):
        rf.knn_graph(as_memmap(np.zeros(50), tmp_path, "one"), 5)
    with pytest.raises(TypeError, match="complex"):
        rf.knn_graph(as_memmap(np.zeros((50, 10), complex), tmp_path, "c"), 5)
    with pytest.raises(ValueError, match="k=60 is out of range"):
        rf.knn_graph(as_memmap(np.ones((60, 10)), tmp_path, "k"), 60)
    Z = np.random.default_rng(5).normal(size=(300, 10))
    Z[7] = 0
    with pytest.raises(ValueError, match="cosine.*first at index 7"):
        rf.knn_graph(as_memmap(Z, tmp_path, "z"), 5, metric="cosine")


def test_hashes_count_the_duplicates():
    X = tied_points(500, 8, 6)
    X[100] = -0.0 * X[100] if not X[100].any() else X[100]
    hashes, n_zero = _arrays.row_hashes_range(_arrays.RowSource(X), np.float32, 0, 500)
    n_dup, zeros = rf.curvature.duplicate_rows(X)
    assert hashes.size - np.unique(hashes).size == n_dup and n_zero == zeros


def test_bfs_clearing_only_the_reached_nodes_equals_clearing_all():
    rng = np.random.default_rng(7)
    for trial in range(6):
        n = int(rng.integers(300, 1500))
        X = rng.normal(size=(n, 3))
        if trial % 2:
            X[: n // 3] += 100  # two components: unreachable targets
        graph, former = rf.knn_graph(X, 5), rf.knn_graph(X + 0.3 * rng.normal(size=X.shape), 5)
        sources = rng.permutation(n).astype(np.int64)
        expected = np.full(former.indices.shape[0], -1, np.int32)
        groups = np.zeros(-(-n // 256) * _bfs.WORDS, np.int64)
        _bfs.bfs_batches_range(graph.indptr, graph.indices, sources, False, former.indptr, former.indices, 0, 0,
                               -(-n // 256), *_bfs.bfs_scratch(n, False), expected, groups)
        _, got, _ = _bfs.multi_source_bfs(graph.indptr, graph.indices, sources, False, former.indptr, former.indices,
                                          0, n_threads=2)
        assert np.array_equal(got, expected)
        _, with_sums, _ = _bfs.multi_source_bfs(graph.indptr, graph.indices, sources, True, former.indptr,
                                                former.indices, 0)
        assert np.array_equal(got, with_sums)


@pytest.mark.parametrize("kind", ["folder", "zarr"])
def test_capture_activations_writes_a_store_batch_by_batch(tmp_path, kind):
    torch = pytest.importorskip("torch")
    if kind == "zarr":
        pytest.importorskip("zarr")
    from ricci_fast.torch import capture_activations

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.ReLU(), torch.nn.Linear(12, 12), torch.nn.ReLU(),
                                torch.nn.Linear(12, 1))
    X = np.random.default_rng(12).normal(size=(700, 5))
    in_memory = capture_activations(model, X, batch_size=128, include_output=True)
    path = tmp_path / ("acts.zarr" if kind == "zarr" else "acts")
    stored = capture_activations(model, X, batch_size=128, include_output=True, store=path)
    assert list(stored) == list(in_memory)
    for name, values in in_memory.items():
        assert np.array_equal(np.asarray(stored[name][:]), values) and stored[name].dtype == values.dtype, name
    if kind == "folder":
        assert sorted(p.name for p in path.iterdir()) == ["000-input.npy", "001-1.npy", "002-3.npy", "003-output.npy"]
        assert isinstance(stored["1"], np.memmap)
    flow = rf.ricci_flow(dict(stored), 10, progress=False)
    assert flow.global_coefficient == rf.ricci_flow(in_memory, 10, progress=False).global_coefficient
    with pytest.raises(ValueError, match="exists"):
        capture_activations(model, X, store=path)


def test_local_flow_points_to_the_cluster_flow():
    X = np.random.default_rng(13).normal(size=(50, 3))
    with pytest.raises(TypeError, match="distributed.ricci_flow"):
        rf.ricci_flow([X, X + 1], 5, client=object(), progress=False)


def test_local_flow_and_layer_curvature_read_out_of_core_layers(tmp_path):
    rng = np.random.default_rng(14)
    h = rng.normal(size=(600, 3))
    layers = []
    for _ in range(4):
        h = np.maximum(h @ rng.normal(size=(h.shape[1], 10)) + 0.1, 0)
        layers.append(h.astype(np.float32))
    layers[1] = layers[1].copy()
    layers[1][:250] += 40  # disconnected: joined from the layer read whole
    layers[2][:80] = layers[2][0]  # duplicates: the same warning from row hashes
    mms = {f"l{i}": as_memmap(layer, tmp_path, f"l{i}") for i, layer in enumerate(layers)}
    with warnings.catch_warnings(record=True) as got_warnings:
        warnings.simplefilter("always")
        got = rf.ricci_flow(mms, 9, progress=False)
    with warnings.catch_warnings(record=True) as want_warnings:
        warnings.simplefilter("always")
        want = rf.ricci_flow(dict(zip(mms, layers)), 9, progress=False)
    assert_same_flow(got, want)
    assert sorted(str(w.message) for w in got_warnings) == sorted(str(w.message) for w in want_warnings)
    a, b = rf.layer_curvature(mms["l2"], 9), rf.layer_curvature(layers[2], 9)
    assert np.array_equal(a.edge_curvature, b.edge_curvature) and a.geodesic_sum == b.geodesic_sum


# --- on a cluster -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.distributed")
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with Client(cluster) as c:
            yield c
        cluster.close()


def test_cluster_knn_reads_every_kind_of_store(client, tmp_path):
    zarr = pytest.importorskip("zarr")
    import dask.array as da

    from ricci_fast import distributed

    X = tied_points(1500, 10, 8)
    expected = rf.knn_graph(X, 10)
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(200, 10), dtype=X.dtype)
    z[:] = X
    for layer in (as_memmap(X, tmp_path), z, da.from_array(X, chunks=(333, 10)), X):
        assert same_graph(distributed.knn_graph(layer, 10, client, rows_per_task=400, progress=False), expected)
    low = X[:, :3].astype(np.float64)  # a KD-tree layer: searched on one worker
    assert same_graph(distributed.knn_graph(as_memmap(low, tmp_path, "low"), 10, client, progress=False),
                      rf.knn_graph(low, 10))


def test_cluster_knn_graphs_run_one_worker_layers_at_once(client, tmp_path):
    """Several layers in one call: KD-tree layers (one worker each, submitted together) and row-block
    layers, each the local graph, in the given order, with one wall time per layer."""
    from ricci_fast import distributed

    rng = np.random.default_rng(21)
    low = [rng.normal(size=(800, 3)) for _ in range(3)]
    high = rng.normal(size=(800, 12)).astype(np.float32)
    layers = [as_memmap(low[0], tmp_path, "l0"), as_memmap(high, tmp_path, "h"), low[1], as_memmap(low[2], tmp_path)]
    timings = []
    got = distributed.knn_graphs(layers, 9, client, progress=False, timings=timings)
    assert len(got) == 4 and len(timings) == 4 and all(t > 0 for t in timings)
    for graph, X in zip(got, [low[0], high, low[1], low[2]]):
        assert same_graph(graph, rf.knn_graph(X, 9))
    with pytest.warns(UserWarning, match="check_recall only applies"):
        distributed.knn_graph(layers[1], 9, client, check_recall=10, progress=False)
    with pytest.raises(ValueError, match="check_recall"):
        distributed.knn_graphs(layers, 9, client, method="approximate", check_recall=-1, progress=False)
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        distributed.knn_graphs([layers[0], np.full((800, 12), np.nan)], 9, client, progress=False)
    for wrong in (high, {"a": high}):
        with pytest.raises(TypeError, match="layers: a list"):
            distributed.knn_graphs(wrong, 9, client, progress=False)


def test_cluster_approximate_layers_equal_local(tmp_path):
    """NN-descent layers on the cluster (submitted together, one worker each): the local graph and recall
    for the same random_state.  Workers are threads of this process here, so pynndescent compiles once
    (in worker processes it compiles again in each: minutes in CI)."""
    pytest.importorskip("pynndescent")
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    from ricci_fast import distributed

    rng = np.random.default_rng(22)
    high = [rng.normal(size=(600, 12)).astype(np.float32) for _ in range(2)]
    want = [rf.knn_graph(X, 9, method="approximate", check_recall=40, random_state=3) for X in high]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as threads:
        got = distributed.knn_graphs([as_memmap(X, tmp_path, f"a{i}") for i, X in enumerate(high)], 9, threads,
                                     method="approximate", check_recall=40, random_state=3, progress=False)
    for graph, expected in zip(got, want):
        assert same_graph(graph, expected) and graph.recall == expected.recall and graph.method == "approximate"


def test_cluster_curvature_and_geodesics_equal_local(client):
    from ricci_fast import distributed

    rng = np.random.default_rng(9)
    X = rng.normal(size=(1200, 4))
    graph, former = rf.knn_graph(X, 8), rf.knn_graph(X + 0.5 * rng.normal(size=X.shape), 8)
    for kind in rf.CURVATURES:
        assert np.array_equal(distributed.edge_curvature(graph, kind, client), rf.edge_curvature(graph, kind)), kind
    assert np.array_equal(distributed.edge_curvature(graph, "ollivier", client, alpha=0.5),
                          rf.edge_curvature(graph, "ollivier", alpha=0.5))
    assert np.array_equal(distributed.former_neighbour_distances(graph, former, client),
                          former_neighbour_distances(graph, former))
    got, want = distributed.sampled_geodesic_sum(graph, 700, client, seed=2), rf.sampled_geodesic_sum(graph, 700, seed=2)
    assert (got.estimate, got.standard_error) == (want.estimate, want.standard_error)
    assert np.array_equal(distributed.geodesic_sums(graph, client), rf.geodesic_sums(graph))


def test_a_graph_is_scattered_once_for_every_stage(client, monkeypatch):
    """Later stages on the same graph object reuse its broadcast; the workers get its structure without
    the k-NN table (and the driver's BFS order when it has one); the values stay the local ones."""
    from ricci_fast import distributed, distributed_layer

    rng = np.random.default_rng(23)
    graph, former = rf.knn_graph(rng.normal(size=(900, 5)), 7), rf.knn_graph(rng.normal(size=(900, 5)), 7)
    _ = graph.bfs_order
    slim = distributed_layer._for_workers(graph)
    assert slim.knn_indices is None and slim.knn_distances is None and slim.indices is graph.indices
    assert slim.__dict__["bfs_order"] is graph.bfs_order and slim.k == graph.k
    sent = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda data, **kw: sent.append(data) or scatter(data, **kw))
    for kind in ("forman", "ollivier"):
        assert np.array_equal(distributed.edge_curvature(graph, kind, client), rf.edge_curvature(graph, kind))
    got, want = distributed.sampled_geodesic_sum(graph, 300, client, seed=1), rf.sampled_geodesic_sum(graph, 300, seed=1)
    assert (got.estimate, got.standard_error) == (want.estimate, want.standard_error)
    assert np.array_equal(distributed.former_neighbour_distances(former, graph, client),
                          former_neighbour_distances(former, graph))
    assert len(sent) == 2 and all(g.knn_indices is None for g in sent)  # graph once, former once
    # a structure assigned anew is sent anew: the weighted curvature of the new weights, not the old graph's
    unweighted = rf.edge_curvature(graph, "forman")
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    graph.weights = 1.0 + (rows + graph.indices) % 3  # symmetric: the same for (i, j) and (j, i)
    weighted = rf.edge_curvature(graph, "forman")
    assert not np.array_equal(weighted, unweighted)
    assert np.array_equal(distributed.edge_curvature(graph, "forman", client), weighted)
    assert len(sent) == 3 and sent[-1].weights is not None


def assert_same_flow(got, want):
    for name in FLOW_FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True), name
    assert got.layer_names == want.layer_names
    assert np.array_equal([got.global_coefficient], [want.global_coefficient], equal_nan=True)


def test_cluster_flow_of_two_memmapped_layers_equals_local(client, tmp_path):
    """The issue's test, at CI size: 20,000 points, two memmapped layers, a LocalCluster of 2 workers."""
    from ricci_fast import distributed

    rng = np.random.default_rng(10)
    t = rng.uniform(0, 4 * np.pi, size=20_000)
    manifold = np.stack([np.cos(t), np.sin(t), 0.1 * t], axis=1)
    first = (manifold @ rng.normal(size=(3, 10)) + 0.05 * rng.normal(size=(20_000, 10))).astype(np.float32)
    second = np.maximum(first @ rng.normal(size=(10, 12)), 0).astype(np.float32)
    layers = {"a": as_memmap(first, tmp_path, "a"), "b": as_memmap(second, tmp_path, "b")}
    with warnings.catch_warnings(record=True) as cluster_warnings:
        warnings.simplefilter("always")
        got = distributed.ricci_flow(layers, 10, client, progress=False)
    with warnings.catch_warnings(record=True) as local_warnings:
        warnings.simplefilter("always")
        want = rf.ricci_flow({"a": first, "b": second}, 10, progress=False)
    assert_same_flow(got, want)
    assert sorted(str(w.message) for w in cluster_warnings) == sorted(str(w.message) for w in local_warnings)


def test_cluster_flow_options_equal_local(client, tmp_path):
    from ricci_fast import distributed

    rng = np.random.default_rng(11)
    h = rng.normal(size=(700, 3))
    layers = []
    for _ in range(4):
        h = np.maximum(h @ rng.normal(size=(h.shape[1], 10)) + 0.1, 0)
        layers.append(h)
    layers[1] = layers[1].copy()
    layers[1][:300] += 50  # a disconnected layer: joined on the driver, as locally
    layers[2][:100] = layers[2][0]  # duplicates: the same warning
    mms = [as_memmap(layer, tmp_path, f"l{i}") for i, layer in enumerate(layers)]
    for options in ({}, {"curvature": "ollivier", "alpha": 0.25}, {"geodesic_sources": 300, "seed": 4},
                    {"curvature": "augmented_forman", "symmetrize": "mutual", "disconnected": "nan"}):
        with warnings.catch_warnings(record=True) as cluster_warnings:
            warnings.simplefilter("always")
            got = distributed.ricci_flow(mms, 8, client, progress=False, **options)
        with warnings.catch_warnings(record=True) as local_warnings:
            warnings.simplefilter("always")
            want = rf.ricci_flow(layers, 8, progress=False, **options)
        assert_same_flow(got, want)
        assert got.global_coefficient_se == want.global_coefficient_se
        assert sorted(str(w.message) for w in cluster_warnings) == sorted(str(w.message) for w in local_warnings), options
    with pytest.raises(ValueError, match="disconnected"):
        distributed.ricci_flow(mms, 8, client, progress=False, disconnected="raise")
    with pytest.raises(ValueError, match="same probe points"):
        distributed.ricci_flow([mms[0], mms[1][:500]], 8, client, progress=False)


def test_cluster_tasks_run_their_kernels_on_one_thread():
    # a worker runs one task per thread; a task that started a kernel thread per core would oversubscribe
    from ricci_fast import _parallel, distributed_layer

    parts = [name for name in dir(distributed_layer) if name.startswith("_") and name.endswith("_part")]
    assert len(parts) >= 8
    with _parallel.num_threads(2):
        for name in parts:
            assert getattr(distributed_layer, name).__wrapped__ is not None, name
        assert distributed_layer._task(_parallel.get_num_threads)() == 1
        assert _parallel.get_num_threads() == 2


@pytest.mark.parametrize("nodes_per_chunk", [1, 7, 1 << 16])
def test_ollivier_owners_match_a_plain_loop_whatever_the_chunk(nodes_per_chunk):
    # the owner of edge u-v is its end of larger degree, the lower id on a tie; owners come heaviest first
    from ricci_fast.distributed_layer import _ollivier_owners

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(size=(300, 20)), np.zeros((40, 20))])   # hubs and twins
    graph = rf.knn_graph(X, 6)
    deg = graph.degrees.astype(np.int64)
    n_owned = np.zeros(graph.n_nodes, np.int64)
    for u in range(graph.n_nodes):
        for v in graph.indices[graph.indptr[u]:graph.indptr[u + 1]]:
            if deg[u] > deg[v] or (deg[u] == deg[v] and u < v):
                n_owned[u] += 1
    work = {u: n_owned[u] * (deg[u] // 64 + 1) * (deg[u] + 1) for u in range(graph.n_nodes) if n_owned[u]}
    expected = sorted(work, key=lambda u: (-work[u], u))
    assert _ollivier_owners(graph, nodes_per_chunk).tolist() == expected
