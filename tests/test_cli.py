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
def test_demo_command(tmp_path, capsys, backend):
    pytest.importorskip("sklearn" if backend == "sklearn" else "torch")
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    assert main(["demo", "--out", str(png), "--n-points", "300", "--no-progress", "--backend", backend]) == 0
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "global_coefficient=" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.png"]  # the training history is in the same figure
    if backend == "torch":
        assert "RicciFlowMonitor" in printed


def test_flow_command_with_ollivier(tmp_path, rng, capsys):
    path = tmp_path / "net.npz"
    layers = saved_network(rng, path, 60, 4, 6, 3)
    assert main(["flow", str(path), "-k", "5", "--curvature", "ollivier", "--alpha", "0.5", "--no-progress"]) == 0
    expected = rf.ricci_flow(layers, 5, curvature="ollivier", alpha=0.5, progress=False)
    assert f"global_coefficient={expected.global_coefficient:.4f}" in capsys.readouterr().out
    assert main(["flow", str(path), "-k", "5", "--alpha", "0.5", "--no-progress"]) == 2
