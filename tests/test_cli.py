import os
import sys
import types

import numpy as np
import pandas as pd
import pytest

import ricci_fast as rf
from ricci_fast.cli import main


def saved_network(rng, path, n, d_in, width, depth):
    """A random ReLU network's layers, saved to an .npz in order."""
    layers = [rng.normal(size=(n, d_in))]
    for _ in range(depth):
        layers.append(np.maximum(layers[-1] @ rng.normal(size=(layers[-1].shape[1], width)), 0))
    np.savez(path, *layers)
    return layers


def test_flow_command(tmp_path, rng, capsys):
    path = tmp_path / "net.npz"
    layers = saved_network(rng, path, 80, 5, 8, 4)
    out = tmp_path / "points.csv"
    layers_out = tmp_path / "layers.parquet"
    assert main(["flow", str(path), "-k", "6", "--out", str(out), "--layers-out", str(layers_out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    expected = rf.ricci_flow(layers, 6, progress=False)
    assert f"global_coefficient={expected.global_coefficient:.4f}" in printed
    table = pd.read_csv(out, index_col="point")
    np.testing.assert_allclose(table["local_coefficient"], expected.local_coefficients, rtol=1e-12)
    np.testing.assert_array_equal(pd.read_parquet(layers_out)["geodesic_sum"], expected.geodesic_sum)


def test_flow_command_errors(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such file"):
        main(["flow", str(tmp_path / "missing.npz")])
    path = tmp_path / "small.npz"
    np.savez(path, np.zeros((5, 2)), np.zeros((5, 2)))
    assert main(["flow", str(path), "-k", "30", "--no-progress"]) == 2
    assert "k=30 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sklearn", "torch"])
def test_demo_command(tmp_path, capsys, backend, monkeypatch):
    pytest.importorskip("sklearn" if backend == "sklearn" else "torch")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    if backend == "sklearn":
        # without --out the demo writes nothing, here or anywhere
        assert main(["demo", "--n-points", "300", "--no-progress", "--backend", backend]) == 0
        assert os.listdir(tmp_path) == []
        printed = capsys.readouterr().out
        assert "global_coefficient=" in printed and "no --out given" in printed
        return
    png = tmp_path / "missing" / "folder" / "demo.png"  # the folder is created
    assert main(["demo", "--out", str(png), "--n-points", "300", "--no-progress", "--backend", backend]) == 0
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "global_coefficient=" in printed
    assert "RicciFlowMonitor" in printed
    assert sorted(p.name for p in png.parent.iterdir()) == ["demo.png"]  # the training history is in the same figure
    assert os.listdir(tmp_path) == ["missing"]


def test_flow_command_with_ollivier(tmp_path, rng, capsys):
    path = tmp_path / "net.npz"
    layers = saved_network(rng, path, 60, 4, 6, 3)
    assert main(["flow", str(path), "-k", "5", "--curvature", "ollivier", "--alpha", "0.5", "--no-progress"]) == 0
    expected = rf.ricci_flow(layers, 5, curvature="ollivier", alpha=0.5, progress=False)
    assert f"global_coefficient={expected.global_coefficient:.4f}" in capsys.readouterr().out
    assert main(["flow", str(path), "-k", "5", "--alpha", "0.5", "--no-progress"]) == 2


def _flow_of(capsys):
    return capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ricci-fast {rf.__version__}"


def test_every_option_has_help():
    from ricci_fast.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) == {"flow", "flow-many", "demo", "warmup"}
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest} has no help text"


def test_folder_of_npy_is_read_in_natural_order(tmp_path, rng, capsys):
    layers = saved_network(rng, tmp_path / "unused.npz", 70, 4, 6, 11)  # 12 layers: layer0 .. layer11
    folder = tmp_path / "layers"
    folder.mkdir()
    for i, layer in enumerate(layers):
        np.save(folder / f"layer{i}.npy", layer)
    (folder / "notes.txt").write_text("not a layer")
    points = tmp_path / "points.csv"
    assert main(["flow", str(folder), "-k", "5", "--no-progress", "--out", str(points), "--layers-out",
                 str(tmp_path / "layers.csv"), "--disconnected", "nan"]) == 0
    # lexicographic order would put layer10 and layer11 after layer1
    expected = rf.ricci_flow(layers, 5, progress=False, disconnected="nan")
    assert f"layer_coefficients=[{', '.join(f'{v:.3f}' for v in expected.layer_coefficients)}]" in _flow_of(capsys)
    np.testing.assert_allclose(pd.read_csv(points)["local_coefficient"], expected.local_coefficients, rtol=1e-12)
    table = pd.read_csv(tmp_path / "layers.csv")
    if "layer_name" in table:
        assert list(table["layer_name"]) == [f"layer{i}" for i in range(12)]


@pytest.mark.parametrize("names, message", [
    (["input", "hidden", "output"], "hold no numbers"),
    (["layer1", "layer2", "output"], "output hold no number"),
    (["layer1", "layer01", "layer2"], "the same numbers"),
    (["a1", "a2_b3", "a3"], "different counts of numbers"),
])
def test_ambiguous_folder_names_are_refused(tmp_path, rng, capsys, names, message):
    for name in names:
        np.save(tmp_path / f"{name}.npy", rng.normal(size=(30, 3)))
    assert main(["flow", str(tmp_path), "-k", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and all(name in err for name in names) and "--layers" in err
    # --layers gives the order explicitly
    order = ",".join(reversed(names))
    assert main(["flow", str(tmp_path), "-k", "4", "--no-progress", "--layers", order, "--disconnected", "nan"]) == 0


def test_natural_order_unit():
    from ricci_fast._io import natural_order

    assert natural_order(["layer10", "layer2", "layer1"]) == ["layer1", "layer2", "layer10"]
    assert natural_order(["b1_c10", "b1_c2", "b0_c30"]) == ["b0_c30", "b1_c2", "b1_c10"]
    assert natural_order(["0_input", "2_fc", "10_out", "1_relu"]) == ["0_input", "1_relu", "2_fc", "10_out"]
    assert natural_order(["only"]) == ["only"]


def test_single_npy_and_npz_with_labels(tmp_path, rng, capsys):
    layers = saved_network(rng, tmp_path / "unused.npz", 80, 4, 7, 4)
    np.save(tmp_path / "one.npy", layers[0])
    assert main(["flow", str(tmp_path / "one.npy"), "-k", "5", "--no-progress"]) == 2
    assert "gives 1 layer (one); a flow needs at least 2" in capsys.readouterr().err
    labels = (layers[0][:, 0] > 0).astype(int)
    path = tmp_path / "named.npz"
    np.savez(path, inp=layers[0], h1=layers[1], h2=layers[2], h3=layers[3], h4=layers[4], y=labels)
    out = tmp_path / "layers.csv"
    assert main(["flow", str(path), "-k", "5", "--labels", "y", "--layers-out", str(out), "--no-progress"]) == 0
    expected = rf.ricci_flow(layers, 5, progress=False)
    assert f"global_coefficient={expected.global_coefficient:.4f}" in _flow_of(capsys)
    np.testing.assert_allclose(pd.read_csv(out)["curvature_gap"], expected.curvature_gap(labels), rtol=1e-12)
    # without --labels the labels array would be a layer (and is refused: it is 1-D of another shape?)
    assert main(["flow", str(path), "-k", "5", "--labels", "z", "--no-progress"]) == 2
    assert "has no array 'z' (it has inp, h1, h2, h3, h4, y)" in capsys.readouterr().err
    assert main(["flow", str(path), "-k", "5", "--layers", "h2,inp,h1", "--no-progress"]) == 0
    chosen = rf.ricci_flow([layers[2], layers[0], layers[1]], 5, progress=False)
    assert f"layer_coefficients=[{', '.join(f'{v:.3f}' for v in chosen.layer_coefficients)}]" in _flow_of(capsys)
    assert main(["flow", str(path), "-k", "5", "--layers", "h2,nope", "--no-progress"]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err
    # without --labels the 1-D labels array is named as such before any work (no progress output first)
    assert main(["flow", str(path), "-k", "5"]) == 2
    captured = capsys.readouterr()
    assert "'y' is 1-D (80 values)" in captured.err and "--labels y" in captured.err
    assert "%" not in captured.err


def test_outputs_get_the_umask_permissions(tmp_path, rng, capsys):
    # atomic writes go through mkstemp (owner-only); the file a user gets must follow the umask
    layers = saved_network(rng, tmp_path / "net.npz", 60, 3, 7, 3)
    out = tmp_path / "points.csv"
    previous = os.umask(0o022)
    try:
        assert main(["flow", str(tmp_path / "net.npz"), "-k", "5", "--out", str(out), "--no-progress"]) == 0
        assert oct(os.stat(out).st_mode & 0o777) == oct(0o644)
        os.chmod(out, 0o600)  # an existing file keeps the mode its owner gave it
        assert main(["flow", str(tmp_path / "net.npz"), "-k", "5", "--out", str(out), "--no-progress"]) == 0
        assert oct(os.stat(out).st_mode & 0o777) == oct(0o600)
    finally:
        os.umask(previous)
    assert len(layers) == 4


def test_flow_options_reach_the_flow(tmp_path, rng, capsys):
    path = tmp_path / "net.npz"
    layers = saved_network(rng, path, 300, 4, 6, 4)
    assert main(["flow", str(path), "-k", "6", "--method", "kdtree", "--geodesic-sources", "128", "--seed", "3",
                 "--disconnected", "nan", "--no-progress"]) == 0
    expected = rf.ricci_flow(layers, 6, method="kdtree", geodesic_sources=128, seed=3, disconnected="nan",
                             progress=False)
    printed = _flow_of(capsys)
    assert f"global_coefficient={expected.global_coefficient:.4f} +- {expected.global_coefficient_se:.4f}" in printed
    with pytest.raises(SystemExit):
        main(["flow", str(path), "--geodesic-sources", "0"])
    with pytest.raises(SystemExit):
        main(["flow", str(path), "--disconnected", "ignore"])


def test_plot_and_outputs_are_checked_before_the_work(tmp_path, rng, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    path = tmp_path / "net.npz"
    saved_network(rng, path, 60, 4, 6, 4)
    png = tmp_path / "figures" / "flow.png"
    assert main(["flow", str(path), "-k", "5", "--plot", str(png), "--no-progress"]) == 0
    assert png.stat().st_size > 10_000
    capsys.readouterr()
    import ricci_fast.flow

    def must_not_run(*args, **kwargs):
        raise AssertionError("the flow ran before the output was checked")

    monkeypatch.setattr(ricci_fast.flow, "ricci_flow", must_not_run)
    assert main(["flow", str(path), "--out", str(tmp_path / "points.xlsx"), "--no-progress"]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err
    assert main(["flow", str(path), "--plot", str(tmp_path / "flow.gif"), "--no-progress"]) == 2
    assert ".png" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    assert main(["flow", str(path), "--layers-out", str(tmp_path / "l.parquet"), "--no-progress"]) == 2
    assert 'pip install ".[parquet]"' in capsys.readouterr().err
    assert main(["flow-many", str(tmp_path / "m.csv"), "--out", str(tmp_path / "r.parquet")]) == 2
    assert 'pip install ".[parquet]"' in capsys.readouterr().err


def test_warmup_command_calls_the_warmup_module(monkeypatch):
    calls = []
    fake = types.ModuleType("ricci_fast.warmup")
    fake.warmup = lambda progress=True: calls.append(progress)
    monkeypatch.setitem(sys.modules, "ricci_fast.warmup", fake)
    assert main(["warmup", "--no-progress"]) == 0
    assert calls == [False]


def test_warmup_command_with_the_real_module(monkeypatch):
    module = pytest.importorskip("ricci_fast.warmup")
    calls = []
    monkeypatch.setattr(module, "warmup", lambda progress=True: calls.append(progress))
    assert main(["warmup"]) == 0
    assert calls == [True]


def test_install_hints_work_from_a_checkout():
    import pathlib

    root = pathlib.Path(rf.__file__).parent
    for name in ("cli.py", "_io.py", "distributed.py"):
        assert "pip install 'ricci_fast[" not in (root / name).read_text()
