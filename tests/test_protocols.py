"""Protocol presets (ricci_fast.protocols) and the reproduction script run end to end at a tiny scale."""

import dataclasses
import os
import sys
from collections import OrderedDict

import numpy as np
import pytest

import ricci_fast as rf
from ricci_fast import datasets
from ricci_fast.protocols import BAPTISTA_2024, HEHL_2025, PROTOCOLS, Protocol, get_protocol, select_layers

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def test_presets_are_data_with_sources():
    assert rf.protocols.BAPTISTA_2024 is BAPTISTA_2024 and PROTOCOLS["hehl2025"] is HEHL_2025
    assert BAPTISTA_2024.layers == ("hidden",)
    assert HEHL_2025.layers == ("input", "hidden", "output")
    assert BAPTISTA_2024.k == (30, 120, 300) and HEHL_2025.k == (50,)
    assert BAPTISTA_2024.well_trained == 0.98 and HEHL_2025.stop_at_train_accuracy == 0.99
    assert HEHL_2025.curvature["local"] == "augmented_forman" and BAPTISTA_2024.curvature["global"] == "forman"
    for protocol in PROTOCOLS.values():
        for setting in ("include_input", "include_hidden", "include_output", "k", "curvature", "probe_size",
                        "optimizer", "epochs", "datasets"):
            assert protocol.sources.get(setting), (protocol.name, setting)
        for kind in protocol.curvature.values():
            assert kind in rf.CURVATURES
        for name in protocol.datasets:
            assert name in datasets.DATASETS or name == "fmnist-sandal-boot"
        assert "| k |" in protocol.describe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        HEHL_2025.k = (10,)
    with pytest.raises(TypeError):
        HEHL_2025.curvature["local"] = "forman"
    assert get_protocol("HEHL_2025") is HEHL_2025 and get_protocol(HEHL_2025) is HEHL_2025
    with pytest.raises(ValueError, match="unknown"):
        get_protocol("smith2023")


def test_scaled_marks_what_changed():
    small = HEHL_2025.scaled(depths=(3,), epochs=10)
    assert isinstance(small, Protocol) and small.depths == (3,) and small.k == HEHL_2025.k
    assert small.sources["depths"].startswith("reduced here")
    assert HEHL_2025.depths == (7, 10, 15)
    with pytest.raises(TypeError, match="no settings"):
        HEHL_2025.scaled(depth=3)


def test_select_layers():
    acts = OrderedDict([("input", np.zeros((5, 2))), ("1", np.ones((5, 3))), ("3", np.ones((5, 3)))])
    out = np.full((5, 1), 0.5)
    assert list(select_layers(acts, BAPTISTA_2024)) == ["1", "3"]
    assert list(select_layers(acts, HEHL_2025, output=out)) == ["input", "1", "3", "output"]
    with pytest.raises(ValueError, match="output"):
        select_layers(acts, HEHL_2025)
    with pytest.raises(ValueError, match="include_input"):
        select_layers(OrderedDict(list(acts.items())[1:]), HEHL_2025, output=out)


@pytest.mark.parametrize("name", ["hehl2025", "baptista2024"])
def test_reproduction_runs_end_to_end_at_tiny_scale(tmp_path, name):
    pytest.importorskip("torch")
    sys.path.insert(0, BENCH)
    try:
        import reproduce
    finally:
        sys.path.remove(BENCH)
    table, seconds = reproduce.main(["--protocol", name, "--tiny", "--subsample", "2", "--quiet", "--out", str(tmp_path)])
    assert len(table) >= 2 and np.isfinite(table["accuracy"]).all()
    report = (tmp_path / name / "report.md").read_text()
    assert "## Settings" in report and "## Results" in report
    assert (tmp_path / name / "networks.csv").exists()
    if name == "hehl2025":
        assert "published" in report and {"mean_local", "untrained_mean_local", "global_pvalue"} <= set(table.columns)
        assert "Depth criterion" in report and "selected depth 3" in report  # one depth in the tiny grid
        assert table["mean_local"].between(-1, 1).all()
    else:
        assert "pooled coefficient" in report and set(table["k"]) == {8, 20}


def test_monitor_early_stopping_method():
    torch = pytest.importorskip("torch")
    from ricci_fast.torch import RicciFlowMonitor

    model = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6), torch.nn.ReLU(),
                                torch.nn.Linear(6, 6), torch.nn.ReLU())
    X = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    monitor = RicciFlowMonitor(model, X, k=8)
    for epoch in range(3):
        monitor.step(epoch)
    values = monitor.history["mean_local_coefficient"]
    # the model does not change, so every record equals the first: the coefficient never fell, no signal
    assert values.nunique() == 1
    assert monitor.early_stopping_epoch(patience=1) is None
    with pytest.raises(ValueError, match="patience"):
        monitor.early_stopping_epoch(patience=0)


def test_monitor_early_stopping_and_depth_on_a_trained_network():
    """End to end, as Hehl et al.'s overfitting.ipynb: a small ReLU network trained full-batch on concentric
    circles, the mean local coefficient (approximate Ollivier-Ricci, input + hidden + output) recorded every
    10 steps; the heuristic stops at its minimum, which comes once the probe accuracy has reached its plateau."""
    torch = pytest.importorskip("torch")
    import warnings

    from ricci_fast import stats
    from ricci_fast.torch import RicciFlowMonitor

    torch.manual_seed(0)
    X, y = datasets.concentric_circles(300, noise=0.05, seed=0)
    X_probe, y_probe = datasets.concentric_circles(200, noise=0.05, seed=1)
    Xt, yt, Xp = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), torch.tensor(X_probe, dtype=torch.float32)
    blocks = [torch.nn.Linear(2, 12), torch.nn.ReLU()]
    for _ in range(3):
        blocks += [torch.nn.Linear(12, 12), torch.nn.ReLU()]
    model = torch.nn.Sequential(*blocks, torch.nn.Linear(12, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    monitor = RicciFlowMonitor(model, X_probe.astype(np.float32), k=15, curvature="approx_ollivier", every=10,
                               include_output=True)
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separated classes: disconnected graphs joined, said in history
        for epoch in range(400):
            with torch.no_grad():
                accuracy = float(((model(Xp).squeeze(1) > 0).numpy() == y_probe).mean())
            monitor.step(epoch, accuracy=accuracy)
            best = monitor.early_stopping_epoch(patience=3)
            if best is not None:
                break
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(Xt).squeeze(1), yt)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    history = monitor.history[monitor.history["flow_computed"]]
    assert best is not None and best < epoch
    values = history["mean_local_coefficient"]
    assert best == values.idxmin()  # the lowest record, and three later ones above it
    assert (values.loc[best + 10:] > values.loc[best]).sum() == 3
    assert values.loc[best] < values.iloc[0] - 0.1  # training made it more Ricci-flow-like
    assert history.loc[best, "accuracy"] >= 0.95 and history["accuracy"].iloc[0] < 0.8
    # the depth criterion on the same records
    layer = history.filter(like="layer_coefficient[").loc[best].to_numpy(float)
    assert monitor.effective_depth(best) == stats.effective_depth(layer)
    assert monitor.effective_depth() == stats.effective_depth(history.filter(like="layer_coefficient[").iloc[-1])
    assert 1 <= monitor.effective_depth() <= len(layer) == 5
    with pytest.raises(ValueError, match="no flow recorded at epoch"):
        monitor.effective_depth(best + 1)
