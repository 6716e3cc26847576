import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.distributed")
import cloudpickle  # noqa: E402
import dask  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402

import ricci_fast as rf  # noqa: E402
from ricci_fast import distributed  # noqa: E402
from ricci_fast.cli import main  # noqa: E402

# the loaders below are defined here, so workers must get them by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with Client(cluster) as c:
            yield c
        cluster.close()


def network(seed, n=90, depth=4, split=False):
    rng = np.random.default_rng(seed)
    layers = [rng.normal(size=(n, 4))]
    for _ in range(depth):
        layers.append(np.maximum(layers[-1] @ rng.normal(size=(layers[-1].shape[1], 7)), 0))
    if split:
        layers[2] = layers[2].copy()
        layers[2][: n // 2] += 1e3
    return layers


@pytest.fixture
def manifest(tmp_path):
    tasks = []
    for i in range(4):
        path = tmp_path / f"net{i}.npz"
        np.savez(path, *network(i))
        tasks.append({"path": str(path), "model": f"m{i}", "width": 7})
    return tasks


def test_flow_many_matches_serial_flows(client, manifest, tmp_path):
    out = str(tmp_path / "results.parquet")
    table = distributed.flow_many(manifest, client, k=6, out=out, progress=False)
    assert list(table["model"]) == ["m0", "m1", "m2", "m3"] and (table["error"] == "").all()
    for row, task in zip(table.to_dict("records"), manifest):
        flow = rf.ricci_flow(distributed.load_layers(task["path"]), 6, progress=False)
        assert row["global_coefficient"] == pytest.approx(flow.global_coefficient, abs=1e-12)
        np.testing.assert_allclose(row["layer_coefficients"], flow.layer_coefficients, atol=1e-12)
        assert row["mean_local_coefficient"] == pytest.approx(flow.mean_local_coefficient, abs=1e-12)
        np.testing.assert_array_equal(row["geodesic_sum"], flow.geodesic_sum)
    written = pd.read_parquet(out)
    assert list(written["model"]) == ["m0", "m1", "m2", "m3"]


def test_failures_are_reported_in_their_rows(client, manifest, tmp_path):
    np.savez(tmp_path / "split.npz", *network(9, split=True))
    tasks = manifest[:2] + [
        {"path": str(tmp_path / "missing.npz"), "model": "missing"},
        {"load": lambda: network(9, split=True), "model": "disconnected"},
        {"load": lambda: [np.zeros((10, 2)), np.zeros((9, 2))], "model": "bad"},
    ]
    with pytest.warns(UserWarning, match="1 of 5 networks gave warnings"):  # the joined one
        table = distributed.flow_many(tasks, client, k=6, out=str(tmp_path / "r.csv"), progress=False)
    errors = dict(zip(table["model"], table["error"]))
    assert errors["m0"] == "" and errors["m1"] == ""
    assert errors["missing"].startswith("FileNotFoundError")
    assert errors["bad"].startswith("ValueError") and "layer 1 has 9" in errors["bad"]
    # a disconnected network is joined (ricci_flow's default, disconnected="join"), not a failure
    row = table[table["model"] == "disconnected"].iloc[0]
    assert row["error"] == "" and np.isfinite(row["global_coefficient"]) and row["disconnected"] == "join"
    with pytest.warns(UserWarning, match="global coefficient is NaN"):
        as_nan = distributed.flow_many(tasks[3:4], client, k=6, disconnected="nan", progress=False)
    assert as_nan["error"].iloc[0] == "" and np.isnan(as_nan["global_coefficient"].iloc[0])
    strict = distributed.flow_many(tasks[3:4], client, k=6, disconnected="raise", progress=False)
    assert "disconnected" in strict["error"].iloc[0]


def _with_duplicate_rows(seed):
    layers = network(seed)
    layers[1] = layers[1].copy()
    layers[1][:30] = layers[1][0]  # a third of the probes on one point: ricci_flow warns
    return layers


def test_worker_warnings_reach_their_rows_and_the_driver(client, tmp_path):
    # the same warning text from three networks (on two workers, two of them share a process, where the
    # once-per-location rule would drop the second), a disconnected network (joined, with its warning and
    # edge counts) and a clean one
    tasks = [{"load": lambda: _with_duplicate_rows(1), "model": "dup_a"},
             {"load": lambda: _with_duplicate_rows(1), "model": "dup_b"},
             {"load": lambda: _with_duplicate_rows(1), "model": "dup_c"},
             {"load": lambda: network(9, split=True), "model": "split"},
             {"load": lambda: network(2), "model": "clean"}]
    out = str(tmp_path / "warned.parquet")
    with pytest.warns(UserWarning, match=r"flow_many: 4 of 5 networks gave warnings .*'warnings' column"):
        table = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
    rows = {row["model"]: row for row in table.to_dict("records")}
    for name in ("dup_a", "dup_b", "dup_c"):
        assert any("repeat another row" in text for text in rows[name]["warnings"]), rows[name]["warnings"]
        assert rows[name]["warnings"] == rows["dup_a"]["warnings"]
    assert rows["clean"]["warnings"] == [] and rows["clean"]["n_joined_edges"] == [0] * 5
    assert sum(rows["split"]["n_joined_edges"]) > 0 and rows["split"]["n_joined_edges"][2] > 0
    assert any("join" in text for text in rows["split"]["warnings"]), rows["split"]["warnings"]
    written = pd.read_parquet(out)
    assert [list(v) for v in written["warnings"]] == [rows[m]["warnings"] for m in written["model"]]
    with pytest.warns(UserWarning, match="1 of 2 networks"):
        csv = distributed.flow_many(tasks[3:], client, k=6, out=str(tmp_path / "warned.csv"), progress=False)
    back = pd.read_csv(tmp_path / "warned.csv")
    assert [json.loads(v) for v in back["n_joined_edges"]] == list(csv["n_joined_edges"])


def test_warning_capture_on_an_in_process_cluster_leaves_the_users_warnings_alone():
    # threads in this process: the capture must survive catch_warnings() blocks around flow_many (which
    # restore the previous hook when they end) and must not swallow the user's own warnings afterwards
    import warnings

    tasks = [{"load": lambda: _with_duplicate_rows(3)}, {"load": lambda: _with_duplicate_rows(3)}]
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as threaded:
        for _ in range(2):
            with warnings.catch_warnings(record=True) as shown:
                warnings.simplefilter("always")
                table = distributed.flow_many(tasks, threaded, k=6, progress=False)
            assert all(any("repeat another row" in text for text in row) for row in table["warnings"])
            assert [str(w.message).split(" (")[0] for w in shown] == ["flow_many: 2 of 2 networks gave warnings"]
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.warn("the user's own")
    assert [str(w.message) for w in shown] == ["the user's own"]


def _dies_while_marked(marker, layers):
    def load():
        with open(marker + ".calls", "a") as fh:
            fh.write("x")
        if os.path.exists(marker):
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9 of the worker mid-task
        return layers

    return load


def test_killed_worker_loses_no_finished_results_and_rerun_resumes(client, manifest, tmp_path):
    marker = str(tmp_path / "kill")
    open(marker, "w").close()
    tasks = manifest + [{"load": _dies_while_marked(marker, network(5)), "model": "fragile", "id": "fragile"}]
    for position, task in enumerate(tasks[:-1]):
        task["id"] = f"net{position}"
    out = str(tmp_path / "resume.csv")
    # the four networks first: with allowed-failures=0 a task merely queued on the worker that dies
    # would be reported as killed too
    distributed.flow_many(tasks[:4], client, k=6, out=out, progress=False)
    first = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
    assert first.attrs["n_resumed"] == 4 and (first["error"][:4] == "").all()
    assert first["error"].iloc[4] != ""
    client.wait_for_workers(2, timeout=60)
    saved = pd.read_csv(out, keep_default_na=False)
    assert list(saved["id"])[:4] == ["net0", "net1", "net2", "net3"]
    os.remove(marker)
    calls_before = open(marker + ".calls").read().count("x")
    second = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
    assert (second["error"] == "").all()
    assert open(marker + ".calls").read().count("x") == calls_before + 1  # only the failed task ran again
    np.testing.assert_allclose(second["global_coefficient"][:4], first["global_coefficient"][:4], atol=1e-12)


def test_cluster_geodesic_sums_equal_local(client):
    graph = rf.knn_graph(np.random.default_rng(3).normal(size=(2100, 3)), 5)
    np.testing.assert_array_equal(distributed.geodesic_sums(graph, client), rf.geodesic_sums(graph))
    # the local function has no cluster keyword: the local path never imports ricci_fast.distributed
    with pytest.raises(TypeError):
        rf.geodesic_sums(graph, client=client)
    split = rf.Graph.from_edges([[0, 1], [2, 3]], 4)
    assert np.isinf(distributed.geodesic_sums(split, client)).all()


def test_task_validation():
    with pytest.raises(ValueError, match="needs a 'path'"):
        distributed.flow_many([{"model": 1}], progress=False)
    with pytest.raises(ValueError, match="ids must be unique"):
        distributed.flow_many([{"path": "a", "id": 1}, {"path": "b", "id": 1}], progress=False)


def test_flow_many_cli(client, manifest, tmp_path, capsys):
    csv = tmp_path / "manifest.csv"
    pd.DataFrame(manifest).to_csv(csv, index=False)
    out = tmp_path / "cli.parquet"
    address = client.scheduler.address
    assert main(["flow-many", str(csv), "--out", str(out), "-k", "6", "--scheduler", address, "--no-progress"]) == 0
    assert "4 networks, 0 failed" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 4


# --- results on disk: journal, resume, parameters, timeouts ------------------------------------------------


def _journal_rows(out):
    with open(str(out) + distributed.JOURNAL_SUFFIX, "rb") as fh:
        return [json.loads(line) for line in fh.read().split(b"\n") if line.strip()]


def test_rows_are_journalled_and_out_is_the_returned_table(client, manifest, tmp_path):
    out = tmp_path / "new" / "folder" / "results.parquet"  # a pathlib.Path into a missing folder
    table = distributed.flow_many(manifest, client, k=6, out=out, progress=False)
    assert table.attrs["n_run"] == 4 and table.attrs["n_resumed"] == 0
    journal = _journal_rows(out)
    assert sorted(r["row"]["model"] for r in journal) == ["m0", "m1", "m2", "m3"]
    written = pd.read_parquet(out)
    assert list(written["model"]) == list(table["model"])
    assert list(written.columns) == list(table.columns)
    np.testing.assert_array_equal(written["global_coefficient"], table["global_coefficient"])
    assert list(written["geodesic_sum"].iloc[0]) == table["geodesic_sum"].iloc[0]
    assert set(written["k"]) == {6} and set(written["curvature"]) == {"forman"}
    assert json.loads(written["parameters"].iloc[0])["metric"] == "euclidean"
    # no temporary file is left beside out
    assert sorted(os.listdir(out.parent)) == ["results.parquet", "results.parquet.journal"]


def test_resume_matches_on_the_parameters(client, manifest, tmp_path):
    out = tmp_path / "results.csv"
    first = distributed.flow_many(manifest, client, k=6, out=out, progress=False)
    again = distributed.flow_many(manifest, client, k=6, metric="euclidean", out=out, progress=False)
    assert again.attrs["n_resumed"] == 4 and again.attrs["n_run"] == 0  # explicit defaults are the same run
    np.testing.assert_array_equal(again["global_coefficient"], first["global_coefficient"])
    other = distributed.flow_many(manifest, client, k=7, out=out, progress=False)
    assert other.attrs["n_resumed"] == 0 and set(other["k"]) == {7}
    expected = rf.ricci_flow(distributed.load_layers(manifest[0]["path"]), 7, progress=False)
    assert other["global_coefficient"].iloc[0] == pytest.approx(expected.global_coefficient, abs=1e-12)
    mutual = distributed.flow_many(manifest, client, k=7, symmetrize="mutual", out=out, progress=False)
    assert mutual.attrs["n_resumed"] == 0 and set(mutual["symmetrize"]) == {"mutual"}
    # out holds the last run's table; the journal keeps every row
    assert set(pd.read_csv(out)["symmetrize"]) == {"mutual"}
    assert len(_journal_rows(out)) == 12


def test_mixed_and_zero_padded_ids_survive_csv_and_resume(client, manifest, tmp_path):
    tasks = [dict(t) for t in manifest]
    for task, ident, meta in zip(tasks, ["007", 7, "a", 12], [1, "x", 2.5, None]):
        task["id"], task["meta"] = ident, meta
    for out in (tmp_path / "r.csv", tmp_path / "r.parquet"):
        first = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
        assert list(first["task"]) == ["007", 7, "a", 12] and (first["error"] == "").all()
        again = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
        assert again.attrs["n_resumed"] == 4 and list(again["task"]) == ["007", 7, "a", 12]
    assert list(pd.read_csv(tmp_path / "r.csv", dtype={"id": str})["id"]) == ["007", "7", "a", "12"]
    assert list(pd.read_parquet(tmp_path / "r.parquet")["id"]) == ["007", "7", "a", "12"]


def test_a_partial_journal_line_is_ignored_and_cut(client, manifest, tmp_path):
    out = tmp_path / "r.csv"
    distributed.flow_many(manifest[:2], client, k=6, out=out, progress=False)
    with open(str(out) + ".journal", "ab") as fh:
        fh.write(b'{"v": 1, "match": "[\\"half a row')  # what a kill -9 mid-write leaves
    table = distributed.flow_many(manifest, client, k=6, out=out, progress=False)
    assert table.attrs["n_resumed"] == 2 and table.attrs["n_run"] == 2
    assert len(_journal_rows(out)) == 4  # the partial line is gone, the new rows are whole lines


_DRIVER = """
import sys, json
from dask.distributed import Client
from ricci_fast import distributed
tasks = json.load(open(sys.argv[2]))
with Client(sys.argv[1]) as client:
    distributed.flow_many(tasks, client, k=6, out=sys.argv[3], progress=False)
"""


def test_kill_9_of_the_driver_loses_no_finished_row(client, tmp_path):
    tasks = []
    for i in range(24):
        path = tmp_path / f"net{i}.npz"
        np.savez(path, *network(i, n=150))
        tasks.append({"path": str(path), "id": f"n{i:03d}"})
    spec = tmp_path / "tasks.json"
    spec.write_text(json.dumps(tasks))
    out = tmp_path / "killed.parquet"
    journal = str(out) + ".journal"
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, client.scheduler.address, str(spec), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and driver.poll() is None:
            if os.path.exists(journal) and open(journal, "rb").read().count(b"\n") >= 3:
                break
            time.sleep(0.02)
        assert driver.poll() is None, driver.communicate()[1].decode()[-2000:]
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    saved = {r["row"]["id"] for r in _journal_rows(out)}
    assert 3 <= len(saved) < 24
    if out.exists():  # written only at the end: either absent or whole, never partial
        pd.read_parquet(out)
    table = distributed.flow_many(tasks, client, k=6, out=out, progress=False)
    assert table.attrs["n_resumed"] == len(saved) and table.attrs["n_run"] == 24 - len(saved)
    written = pd.read_parquet(out)
    assert sorted(written["id"]) == [t["id"] for t in tasks]  # every row exactly once
    assert (written["error"] == "").all()
    ids = [r["row"]["id"] for r in _journal_rows(out)]
    assert sorted(ids) == [t["id"] for t in tasks]  # the journal holds each finished row once


def _hangs():
    time.sleep(30)


def test_timeout_and_fifo_are_reported_in_their_rows(client, manifest, tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    tasks = manifest[:1] + [{"path": str(fifo), "model": "fifo"}, {"load": _hangs, "model": "hangs"}]
    start = time.perf_counter()
    table = distributed.flow_many(tasks, client, k=6, timeout=2, progress=False)
    assert time.perf_counter() - start < 25
    errors = dict(zip(table["model"], table["error"]))
    assert errors["m0"] == ""
    assert "FIFO" in errors["fifo"]
    assert errors["hangs"].startswith("TimeoutError") and "timeout=2" in errors["hangs"]
    with pytest.raises(ValueError, match="timeout"):
        distributed.flow_many(tasks, client, timeout=-1, progress=False)


def test_labels_and_layer_selection_in_tasks(client, tmp_path):
    layers = network(4)
    labels = np.arange(90) % 3
    path = tmp_path / "named.npz"
    np.savez(path, a=layers[0], b=layers[1], c=layers[2], d=layers[3], e=layers[4], y=labels)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, layer in enumerate(layers):
        np.save(folder / f"layer{i * 5}.npy", layer)  # layer0, layer5, layer10, ...: natural order
    tasks = [{"path": str(path), "labels": "y", "model": "npz"},
             {"path": str(path), "labels": "y", "layers": "c,a,b,d", "model": "selected"},
             {"path": str(folder), "model": "folder"},
             {"path": str(folder / "layer5.npy"), "model": "one layer"}]
    table = distributed.flow_many(tasks, client, k=6, progress=False).set_index("model")
    full = rf.ricci_flow(layers, 6, progress=False)
    assert table.loc["npz", "global_coefficient"] == pytest.approx(full.global_coefficient, abs=1e-12)
    np.testing.assert_allclose(table.loc["npz", "curvature_gap"], full.curvature_gap(labels), atol=1e-12)
    assert table.loc["npz", "layer_names"] == ["a", "b", "c", "d", "e"]
    chosen = rf.ricci_flow([layers[2], layers[0], layers[1], layers[3]], 6, progress=False)
    assert table.loc["selected", "layer_names"] == ["c", "a", "b", "d"]
    np.testing.assert_allclose(table.loc["selected", "layer_coefficients"], chosen.layer_coefficients, atol=1e-12)
    assert table.loc["folder", "global_coefficient"] == pytest.approx(full.global_coefficient, abs=1e-12)
    assert table.loc["folder", "layer_names"] == ["layer0", "layer5", "layer10", "layer15", "layer20"]
    assert table.loc["folder", "curvature_gap"] is None
    assert "at least 2" in table.loc["one layer", "error"]


def test_empty_manifest_and_checks_before_work(tmp_path, monkeypatch):
    empty = pd.DataFrame(columns=["path", "model"])
    table = distributed.flow_many(empty, k=6, out=tmp_path / "e.csv", progress=False)
    assert len(table) == 0
    for column in ("path", "model", "task", "k", "parameters", "global_coefficient", "error"):
        assert column in table.columns
    assert list(pd.read_csv(tmp_path / "e.csv").columns) == list(table.columns)
    with pytest.raises(ValueError, match="clash"):
        distributed.flow_many([{"path": "a", "k": 3}], progress=False)
    with pytest.raises(ValueError, match=r"\['layers'\] selects layers by name"):
        distributed.flow_many([{"path": "a", "layers": 6}], progress=False)
    with pytest.raises(ValueError, match="curvature"):
        distributed.flow_many([{"path": "a"}], curvature="nope", progress=False)
    with pytest.raises(ValueError, match=".csv or .parquet"):
        distributed.flow_many([{"path": "a"}], out=tmp_path / "r.xlsx", progress=False)
    (tmp_path / "old.csv").write_text("task,error\n0,\n")
    with pytest.raises(ValueError, match="no journal"):
        distributed.flow_many([{"path": "a"}], out=tmp_path / "old.csv", progress=False)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install "\.\[parquet\]"'):
        distributed.flow_many([{"path": "a"}], out=tmp_path / "r.parquet", progress=False)


def test_a_second_run_on_the_same_out_is_refused(client, manifest, tmp_path):
    import fcntl

    out = tmp_path / "r.csv"
    with open(str(out) + ".journal", "ab") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another flow_many run"):
            distributed.flow_many(manifest, client, k=6, out=out, progress=False)


def test_flow_many_cli_options_and_string_ids(client, manifest, tmp_path, capsys):
    csv = tmp_path / "manifest.csv"
    frame = pd.DataFrame(manifest)
    frame["id"] = ["007", "008", "010", "011"]
    frame.to_csv(csv, index=False)
    out = tmp_path / "cli" / "r.csv"
    args = ["flow-many", str(csv), "--out", str(out), "-k", "6", "--scheduler", client.scheduler.address,
            "--no-progress", "--metric", "sqeuclidean", "--symmetrize", "mutual", "--disconnected", "nan", "--timeout", "60"]
    assert main(args) == 0
    assert "4 networks, 0 failed (0 reused" in capsys.readouterr().out
    assert main(args) == 0
    assert "(4 reused" in capsys.readouterr().out
    written = pd.read_csv(out, dtype={"id": str, "task": str})
    assert list(written["id"]) == ["007", "008", "010", "011"] and set(written["metric"]) == {"sqeuclidean"}
    header_only = tmp_path / "header.csv"
    header_only.write_text("path,model\n")
    assert main(["flow-many", str(header_only), "--out", str(tmp_path / "h.csv"), "--no-progress"]) == 0
    assert "0 networks, 0 failed" in capsys.readouterr().out
