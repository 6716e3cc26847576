"""Many networks, or one huge graph, on a Dask cluster (pip install ".[dask]" from a checkout).

- `flow_many(tasks, ...)`: one Ricci flow per network, each its own Dask task.  With `out=`, every
  finished row is appended at once to a journal beside it (`<out>.journal`, one JSON line per row,
  fsync'd at least every second; constant cost per task), and `out` itself is written atomically
  from the journal at the end (and when a rerun resumes): a kill -9 of the driver or of a worker at any moment loses no finished row, a
  reader never sees half a file, and a rerun with the same parameters runs only what is missing.
- `geodesic_sums(graph, client)`: all-sources BFS of one graph with the sources split across the
  workers; the graph is scattered once; the same numbers as the local `ricci_fast.geodesic_sums`.

This module sits above the local code and imports it; nothing in the local path imports this module.
With client=None a LocalCluster sized to this machine is started (one single-threaded process per core,
NUMBA_NUM_THREADS set so the cores are not oversubscribed) and closed afterwards; any other Dask
deployment (dask-scheduler / dask-worker, dask-jobqueue, dask-mpi) works through its Client.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
import traceback
import warnings

import numpy as np
import pandas as pd

try:
    import dask
    from dask.distributed import Client, LocalCluster, as_completed
except ImportError:  # pragma: no cover - exercised only without dask
    raise ImportError('ricci_fast.distributed needs Dask: pip install ".[dask]" (from a checkout of ricci_fast).') from None

from ricci_fast import _io
from ricci_fast._io import load_layers, read_layers  # noqa: F401 - load_layers is part of this module's API
from ricci_fast.graph import Graph

#: The column that identifies a task across runs (its position in `tasks` unless the task has an "id").
TASK_KEY = "task"
#: Columns that record the parameters of a row's flow; resume matches on PARAMETERS (all of them, as JSON).
PARAMETER_COLUMNS = ("k", "curvature", "metric", "symmetrize", "method", "disconnected", "parameters")
#: Columns a finished task fills (lists are per layer or per transition).
RESULT_COLUMNS = (
    "layer_names", "n_layers", "n_points", "global_coefficient", "layer_coefficients", "mean_local_coefficient",
    "negative_local_share", "total_curvature", "geodesic_sum", "curvature_gap", "n_joined_edges", "load_seconds",
    "flow_seconds", "warnings", "error", "traceback", "worker_pid",
)
LIST_COLUMNS = ("layer_names", "layer_coefficients", "total_curvature", "geodesic_sum", "curvature_gap",
                "n_joined_edges", "warnings")
#: Task fields read by flow_many itself (the rest is metadata carried into the row).
TASK_FIELDS = ("path", "load", "id", "labels", "layers")
#: Default per-task time limit in seconds (load + flow); None disables it.
DEFAULT_TIMEOUT = 3600.0
JOURNAL_SUFFIX = ".journal"
_JOURNAL_VERSION = 1


@contextlib.contextmanager
def _client_or_local(client, threads_per_worker: int = 1):
    if client is not None:
        yield client
        return
    n_workers = max(1, os.cpu_count() or 1)
    # Dask sets OMP_NUM_THREADS=1 in its workers but not NUMBA_NUM_THREADS (dask/distributed#9075);
    # ricci_fast._parallel reads NUMBA_NUM_THREADS as its default thread count
    with dask.config.set({"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": str(threads_per_worker),
                          "distributed.nanny.pre-spawn-environ.OMP_NUM_THREADS": str(threads_per_worker)}):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=None)
        local = Client(cluster)
    try:
        yield local
    finally:
        local.close()
        cluster.close()


# ---------------------------------------------------------------------------------------------------------
# tasks and parameters


def _jsonable(value):
    """Plain JSON types for a row value (numpy scalars and arrays become Python ones)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    return str(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and value == "")


def _normalise_tasks(tasks) -> tuple[list[dict], list[str]]:
    """(tasks as dicts with their TASK_KEY, the metadata column names in order)."""
    if isinstance(tasks, pd.DataFrame):
        columns = [str(c) for c in tasks.columns]
        records = tasks.to_dict("records")
    else:
        if isinstance(tasks, (str, bytes, os.PathLike)) or isinstance(tasks, dict):
            raise TypeError("tasks: give a DataFrame or a list of dicts, one per network.")
        records = []
        for position, task in enumerate(tasks):
            if not isinstance(task, dict):
                raise TypeError(f"tasks[{position}] must be a dict, got {type(task).__name__}.")
            records.append(task)
        columns = []
        for task in records:
            columns += [str(c) for c in task if str(c) not in columns]
    clash = [c for c in columns if c in PARAMETER_COLUMNS or c in RESULT_COLUMNS or c == TASK_KEY]
    if clash:
        raise ValueError(f"tasks: column(s) {', '.join(map(repr, clash))} clash with the result table's own "
                         f"columns; rename them (e.g. 'meta_{clash[0]}').")
    out = []
    for position, raw in enumerate(records):
        task = {str(key): _jsonable(value) if key != "load" else value for key, value in raw.items()}
        has_path = not _missing(task.get("path"))
        if not has_path and "load" not in task:
            raise ValueError(f"tasks[{position}] needs a 'path' (.npz, .npy or folder of .npy) or a 'load' callable.")
        if "load" in task and not callable(task["load"]):
            raise TypeError(f"tasks[{position}]['load'] must be callable, got {type(task['load']).__name__}.")
        for name in ("labels", "layers"):
            if name not in task:
                continue
            value = task[name]
            if _missing(value):
                task[name] = None
            elif name == "labels" and not isinstance(value, str):
                raise ValueError(f"tasks[{position}]['labels'] names the labels array (a string), got {value!r}.")
            elif name == "layers" and not (isinstance(value, str) or isinstance(value, list)):
                raise ValueError(f"tasks[{position}]['layers'] selects layers by name ('a,b,c' or a list), got "
                                 f"{value!r}; rename a metadata column called 'layers'.")
        if (task.get("labels") is not None or task.get("layers") is not None) and not has_path:
            raise ValueError(f"tasks[{position}]: 'labels' and 'layers' apply to a 'path'; a 'load' callable "
                             f"returns the layers (and labels) itself.")
        if "id" in task and _missing(task["id"]):
            raise ValueError(f"tasks[{position}] has an empty 'id'.")
        task[TASK_KEY] = task["id"] if "id" in task else position
        out.append(task)
    keys = [json.dumps(t[TASK_KEY]) for t in out]
    if len(set(keys)) != len(keys):
        raise ValueError("tasks: ids must be unique (the 'id' column, or positions when there is none).")
    return out, columns


def _parameters(k, curvature, flow_options) -> dict:
    """Every option the flow runs with, checked and with defaults filled in (as ricci_flow fills them),
    so that equal runs record equal parameters."""
    from ricci_fast.flow import check_flow_options

    options = dict(flow_options)
    if "progress" in options or "client" in options:
        raise ValueError("flow_many: pass progress= to flow_many itself; each task's flow runs without a bar.")
    named = {name: options.pop(name) for name in
             ("disconnected", "metric", "symmetrize", "method", "geodesic_sources", "seed") if name in options}
    checked = check_flow_options(k=k, curvature=curvature, curvature_options=options, **named)
    del checked["progress"]
    params = {**checked.pop("curvature_options"), **checked}
    try:
        json.dumps(params, allow_nan=True)
    except TypeError:
        raise TypeError("flow options must be plain values (numbers, strings, None) so that the results "
                        "table can record them.") from None
    return params


def _disconnected_choices():
    from ricci_fast import flow

    return tuple(getattr(flow, "DISCONNECTED", ("raise", "nan")))


def _match_key(task: dict, parameters_json: str) -> str:
    # a row is reused only for the same task, the same file and the same parameters
    return json.dumps([task[TASK_KEY], task.get("path"), task.get("labels"), task.get("layers"), parameters_json])


# ---------------------------------------------------------------------------------------------------------
# one task, on a worker


def _task_row(task: dict, params: dict) -> dict:
    row = {key: value for key, value in task.items() if key != "load"}
    row.update({name: params.get(name) for name in PARAMETER_COLUMNS if name != "parameters"})
    row["parameters"] = json.dumps(params, sort_keys=True)
    return row


_capture = threading.local()
_capture_lock = threading.Lock()


def _install_warning_capture() -> None:
    """Routes the warnings shown in a thread that is running a task into that task's list (per thread, so
    that tasks on a multi-threaded worker keep theirs apart), and shows ricci_fast's warnings every time:
    under Python's default once-per-location rule the second network with the same warning text (the same
    layer name, say) would otherwise get an empty list.  Checked before every task, since a
    warnings.catch_warnings() block around flow_many (an in-process cluster) restores the previous hook
    and filters when it ends."""
    with _capture_lock:
        if not getattr(warnings.showwarning, "_ricci_fast_capture", False):
            shown = warnings.showwarning

            def showwarning(message, category, filename, lineno, file=None, line=None):
                sink = getattr(_capture, "sink", None)
                if sink is None:
                    shown(message, category, filename, lineno, file, line)
                else:
                    sink.append(f"{category.__name__}: {message}")

            showwarning._ricci_fast_capture = True
            warnings.showwarning = showwarning
        warnings.filterwarnings("always", module=r"ricci_fast(\.|$)")  # idempotent: replaces its own copy


def _run_flow(task: dict, params: dict) -> dict:
    from ricci_fast.flow import ricci_flow

    start = time.perf_counter()
    labels = None
    if "load" in task:
        loaded = task["load"]()
        if isinstance(loaded, dict):
            named = {str(name): value for name, value in loaded.items()}
        else:
            named = {str(i): value for i, value in enumerate(loaded)}
    else:
        named, labels = read_layers(task["path"], labels=task.get("labels"), layers=task.get("layers"))
        _io.check_enough_layers(named, task["path"])
    loaded_at = time.perf_counter()
    options = {key: value for key, value in params.items() if key != "k"}
    flow = ricci_flow(_io.flow_layers(named), params["k"], progress=False, **options)
    local = flow.local_coefficients[np.isfinite(flow.local_coefficients)]
    gap = None
    if labels is not None:
        gap = [float(v) for v in flow.curvature_gap(labels)]
    return dict(
        layer_names=list(getattr(flow, "layer_names", named.keys())),
        n_layers=flow.n_layers,
        n_points=flow.n_points,
        global_coefficient=float(flow.global_coefficient),
        layer_coefficients=[float(v) for v in flow.layer_coefficients],
        mean_local_coefficient=float(local.mean()) if local.size else float("nan"),
        negative_local_share=float(np.mean(local < 0)) if local.size else float("nan"),
        total_curvature=[float(v) for v in flow.total_curvature],
        geodesic_sum=[float(v) for v in flow.geodesic_sum],
        curvature_gap=gap,
        n_joined_edges=[int(v) for v in flow.n_joined_edges],
        load_seconds=loaded_at - start,
        flow_seconds=time.perf_counter() - loaded_at,
        error="",
    )


def _run_task(task: dict, params: dict, timeout: float | None) -> dict:
    """One network: load, flow, summarise.  Never raises: errors and timeouts go to the row's 'error'."""
    row = _task_row(task, params)
    outcome: dict = {}

    def attempt():
        _install_warning_capture()
        _capture.sink = outcome["warnings"] = []
        try:
            outcome["result"] = _run_flow(task, params)
        except BaseException as exc:  # noqa: BLE001 - a failing task is reported, the others go on
            outcome["error"] = f"{type(exc).__name__}: {exc}"
            outcome["traceback"] = traceback.format_exc(limit=3)
        finally:
            _capture.sink = None

    if timeout is None:
        attempt()
    else:
        # a thread, so that a loader stuck in a system call (a FIFO, a hung network mount) cannot hold
        # the worker: the row reports the timeout and the worker takes the next task
        runner = threading.Thread(target=attempt, name="ricci_fast-flow_many-task", daemon=True)
        runner.start()
        runner.join(timeout)
        if runner.is_alive():
            outcome = {"error": f"TimeoutError: the task ran past timeout={timeout:g} s (load and flow); raise "
                                f"flow_many(timeout=...) / --timeout, or check that its input can be read"}
    if "result" in outcome:
        row.update(outcome["result"])
        row["traceback"] = ""
    else:
        row.update(error=outcome["error"], traceback=outcome.get("traceback", ""))
    row["warnings"] = list(outcome.get("warnings", []))
    row["worker_pid"] = os.getpid()
    return row


# ---------------------------------------------------------------------------------------------------------
# the journal


class _Journal:
    """Append-only JSON lines, one per finished row.

    Each batch of rows is handed to the kernel with one unbuffered write() as soon as it arrives, so a
    kill -9 of this process (or any other) afterwards cannot lose it; fsync, which guards against a
    power cut or a kernel crash and costs milliseconds per call on many disks (7 ms here), runs at most
    every FSYNC_SECONDS and at the end, so the cost per task stays tens of microseconds.  A kill -9
    mid-write leaves at most one partial last line: it is ignored when read and cut off before the next
    append.  An exclusive lock stops two runs from writing to the same journal at once."""

    FSYNC_SECONDS = 1.0

    def __init__(self, path: str):
        self.path = path
        self.seconds = 0.0
        self._fh = None
        self._synced = 0.0

    def read(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        records = []
        with open(self.path, "rb") as fh:
            data = fh.read()
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the partial last line of a killed write
            if isinstance(record, dict) and record.get("v") == _JOURNAL_VERSION:
                records.append(record)
        return records

    def open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._fh = os.fdopen(fd, "rb+", buffering=0)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        except OSError:
            self._fh.close()
            self._fh = None
            raise RuntimeError(f"another flow_many run is writing to {self.path}; wait for it or use another out.") from None
        # cut a partial last line (a killed write) so that the next record starts on a line of its own
        data = self._fh.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            self._fh.truncate(end)
            os.fsync(fd)
        self._fh.seek(0, os.SEEK_END)

    def append(self, records: list[dict]) -> None:
        start = time.perf_counter()
        payload = b"".join(json.dumps(r, allow_nan=True, default=str).encode() + b"\n" for r in records)
        view = memoryview(payload)
        while view:  # an unbuffered write may be partial
            view = view[self._fh.write(view):]
        if start - self._synced >= self.FSYNC_SECONDS:
            os.fsync(self._fh.fileno())
            self._synced = time.perf_counter()
        self.seconds += time.perf_counter() - start

    def close(self) -> None:
        if self._fh is not None:
            start = time.perf_counter()
            os.fsync(self._fh.fileno())
            self.seconds += time.perf_counter() - start
            self._fh.close()
            self._fh = None


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    extra = []
    for row in rows:
        extra += [c for c in row if c not in columns and c not in extra]
    frame = pd.DataFrame(rows, columns=columns + extra) if rows else pd.DataFrame(columns=columns)
    if "error" in frame:
        frame["error"] = frame["error"].fillna("").astype(object)
    return frame


def _write_out(frame: pd.DataFrame, out: str) -> None:
    frame = frame.copy()
    if out.lower().endswith(".csv"):
        # lists as JSON, so that they read back as lists (json.loads) and not as Python reprs
        for column in LIST_COLUMNS:
            if column in frame:
                frame[column] = [v if v is None or isinstance(v, str) else json.dumps(v) for v in frame[column]]
    _io.write_table(frame, out, index=False)


# ---------------------------------------------------------------------------------------------------------


def flow_many(tasks, client: Client | None = None, *, k: int = 30, curvature: str = "forman", out=None,
              retry_failed: bool = True, progress: bool = True, timeout: float | None = DEFAULT_TIMEOUT,
              **flow_options) -> pd.DataFrame:
    """Ricci flows of many networks on a Dask cluster, one task per network.

    tasks: a DataFrame or a list of dicts, one per network, with a 'path' (an .npz whose arrays, in file
    order, are the layers; a folder of .npy files, read in natural order: layer2 before layer10; or one
    .npy file) or a 'load' callable returning the layers (a list, or a dict of name -> array).  Optional
    'labels' (the name of a labels array in the file, excluded from the layers; the row then gets the
    curvature gap of every layer) and 'layers' (names to select, in order: "a,b,c" or a list).  An 'id'
    column, if present, identifies a task across runs (else its position).  Every other column (model
    id, width, accuracy, ...) is metadata carried into the result.
    out: a .csv or .parquet file (str or pathlib.Path; its folder is created when missing).  Each finished
    row goes at once into the journal `<out>.journal` (one JSON line per row, written as it arrives,
    fsync'd at least every second and at the end); `out` is written atomically from it when the run ends (also after an exception or Ctrl-C) and when a rerun resumes.
    A rerun with the same out reuses the rows of the same task (id, path, labels, layers) computed with
    the same parameters (another k, curvature, metric, ... runs again) that did not fail
    (retry_failed=False also keeps failed ones).  `out` holds exactly the table returned; the journal
    keeps every row ever finished.  Object columns mixing types (ids 7 and "a") are written as strings;
    the returned table keeps the values as given, and ids like "007" stay strings across runs.
    timeout: seconds per task (load + flow; default DEFAULT_TIMEOUT = 1 hour, None for no limit): a task
    past it is reported as a TimeoutError in its row (its thread may run on in the worker until it ends).
    k, curvature and **flow_options go to ricci_flow (disconnected defaults to its "join": a disconnected
    layer is connected by its shortest edges, counted per layer in n_joined_edges; "nan" gives a NaN row
    instead, "raise" an error in the row); they are recorded in the columns k, curvature, metric,
    symmetrize, method, disconnected and parameters (all options as JSON).

    Returns one row per task in task order: the metadata, the task key 'task', the parameters,
    layer_names, n_layers, n_points, global_coefficient, layer_coefficients, mean_local_coefficient,
    negative_local_share, total_curvature, geodesic_sum, curvature_gap (None without labels),
    n_joined_edges, load_seconds, flow_seconds, warnings (every warning the task gave, "Category: text";
    one summary warning on the driver names how many networks gave any), error ("" when it worked),
    traceback and worker_pid.  frame.attrs holds
    n_resumed (rows reused), n_run and journal_seconds (driver time spent saving rows).
    """
    from tqdm.auto import tqdm

    records, metadata = _normalise_tasks(tasks)
    params = _parameters(k, curvature, flow_options)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}.")
    parameters_json = json.dumps(params, sort_keys=True)
    columns = metadata + [c for c in (TASK_KEY,) + PARAMETER_COLUMNS + RESULT_COLUMNS if c not in metadata]
    journal = None
    if out is not None:
        out = _io.check_table_path(out, "out")
        journal = _Journal(out + JOURNAL_SUFFIX)
        if os.path.exists(out) and not os.path.exists(journal.path):
            raise ValueError(f"out: {out} exists but has no journal {journal.path} to resume from (it was not "
                             f"written by this version of flow_many); move it away or delete it.")

    wanted = {_match_key(t, parameters_json): t for t in records}
    done: dict[str, dict] = {}
    if journal is not None:
        for record in journal.read():
            key = record.get("match")
            if key not in wanted:
                continue
            failed = record["row"].get("error", "") != ""
            if failed and retry_failed:
                done.pop(key, None)
                continue
            done[key] = record["row"]
    for key, row in done.items():  # the metadata of this run, the results of the earlier one
        row.update({c: v for c, v in wanted[key].items() if c != "load"})
    todo = [t for key, t in wanted.items() if key not in done]
    results = dict(done)

    def table():
        return _frame([results[key] for key in wanted if key in results], columns)

    if journal is not None:
        journal.open()
    try:
        if journal is not None and done:
            _write_out(table(), out)
        if todo:
            with _client_or_local(client) as active:
                futures = {}
                for task in todo:
                    future = active.submit(_run_task, task, params, timeout, pure=False)
                    futures[future] = _match_key(task, parameters_json)
                by_key = {_match_key(t, parameters_json): t for t in todo}
                with tqdm(total=len(todo), desc="flow_many", unit="network", disable=not progress) as bar:
                    finished = as_completed(futures, with_results=True, raise_errors=False)
                    for batch in finished.batches():
                        saved = []
                        for future, row in batch:
                            key = futures.pop(future)
                            if not isinstance(row, dict):  # the worker died (KilledWorker) or the task was lost
                                exc = _exc(row)
                                row = _task_row(by_key[key], params)
                                row.update(error=f"{type(exc).__name__}: {exc}", traceback="")
                            results[key] = row
                            saved.append({"v": _JOURNAL_VERSION, "match": key, "row": row})
                            future.release()
                        if journal is not None:
                            journal.append(saved)
                        bar.update(len(saved))
    finally:
        if journal is not None:
            journal.close()
            _write_out(table(), out)
    frame = table()
    warned = [(row[TASK_KEY], row["warnings"]) for row in frame.to_dict("records")
              if isinstance(row.get("warnings"), list) and row["warnings"]]
    if warned:
        task, first = warned[0]
        text = first[0] if len(first[0]) <= 200 else first[0][:197] + "..."
        warnings.warn(f"flow_many: {len(warned)} of {len(frame)} networks gave warnings (task {task!r}: {text}"
                      f"{f' and {len(first) - 1} more' if len(first) > 1 else ''}); every row lists its own in the "
                      f"'warnings' column.", stacklevel=2)
    frame.attrs.update(n_resumed=len(done), n_run=len(todo),
                       journal_seconds=journal.seconds if journal is not None else 0.0)
    return frame


def _exc(value) -> BaseException:
    # as_completed(raise_errors=False) gives (type, exception, traceback) for a failed future
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value[1]
    return value if isinstance(value, BaseException) else RuntimeError(repr(value))


def _bfs_part(graph: Graph, order: np.ndarray, start: int, stop: int) -> np.ndarray:
    from ricci_fast.geodesics import run_bfs

    # the sources are a contiguous range of the graph's BFS order, so each batch of them stays local
    sums, _ = run_bfs(graph, sums=True, sources=order[start:stop])
    return sums


def geodesic_sums(graph: Graph, client: Client | None = None, *, tasks_per_worker: int = 4) -> np.ndarray:
    """Node geodesic sums G(x) of one graph (docs/definitions.md section 3), the BFS sources split across
    the workers of `client` (a LocalCluster of this machine if None).  The graph (with its reverse
    Cuthill-McKee order) is scattered to every worker once; each task takes a contiguous range of whole
    source batches in that order.  Bit-identical to ricci_fast.geodesic_sums(graph); inf everywhere when
    the graph is disconnected.  Each worker's kernels use ricci_fast._parallel's thread count (its
    NUMBA_NUM_THREADS or RICCI_FAST_NUM_THREADS)."""
    from ricci_fast._validation import check_graph
    from ricci_fast.kernels import bfs as _bfs

    if isinstance(tasks_per_worker, bool) or not isinstance(tasks_per_worker, (int, np.integer)) or tasks_per_worker < 1:
        raise ValueError(f"tasks_per_worker must be a positive integer, got {tasks_per_worker!r}.")
    if check_graph(graph).n_components > 1:
        return np.full(graph.n_nodes, np.inf)
    order = graph.bfs_order  # computed once here and shipped with the graph
    n = graph.n_nodes
    batch = _bfs.WORDS * _bfs.WORD_BITS
    n_batches = -(-n // batch)
    with _client_or_local(client) as active:
        n_workers = max(1, len(active.scheduler_info()["workers"]))
        n_tasks = max(1, min(n_batches, n_workers * tasks_per_worker))
        per_task = -(-n_batches // n_tasks) * batch
        shared = active.scatter([graph, order], broadcast=True)
        futures = [active.submit(_bfs_part, shared[0], shared[1], start, min(n, start + per_task), pure=False)
                   for start in range(0, n, per_task)]
        total = np.zeros(n, np.int64)
        for future in as_completed(futures):
            total += future.result()
    return total.astype(np.float64)


# one big layer across the cluster (ricci_fast/distributed_layer.py): imported last, as it uses _client_or_local
from ricci_fast.distributed_layer import (  # noqa: E402
    edge_curvature,
    former_neighbour_distances,
    knn_graph,
    knn_graphs,
    ricci_flow,
    sampled_geodesic_sum,
)
