"""Figures: what each panel shows (labels, correlations, layer names) and that legends stay off the data."""

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import ricci_fast as rf  # noqa: E402
from ricci_fast import plotting  # noqa: E402


@pytest.fixture(scope="module")
def flow():
    rng = np.random.default_rng(3)
    h = rng.normal(size=(120, 3))
    layers = [h]
    for _ in range(4):
        h = np.maximum(h @ rng.normal(size=(h.shape[1], 6)) + 0.1, 0) + 1e-3 * rng.normal(size=(120, 6))
        layers.append(h)
    return rf.ricci_flow(layers, 8, progress=False, disconnected="nan")


class Named:
    """A flow with layer names (what ricci_flow gives for a dict of named layers)."""

    def __init__(self, flow, names):
        self._flow, self.layer_names = flow, tuple(names)

    def __getattr__(self, name):
        return getattr(self._flow, name)


def all_axes(fig):
    return [ax for ax in fig.get_axes() if ax.get_visible()]


def tick_labels(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


def assert_legends_outside(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend() for ax in fig.get_axes() if ax.get_legend() is not None] + list(fig.legends)
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.get_axes():
            area = ax.get_window_extent(renderer)
            overlap_x = min(box.x1, area.x1) - max(box.x0, area.x0)
            overlap_y = min(box.y1, area.y1) - max(box.y0, area.y0)
            assert overlap_x <= 1 or overlap_y <= 1, f"legend {[t.get_text() for t in legend.get_texts()]} covers an axes"
    return len(legends)


def test_plot_flow_panels_label_transitions_and_show_each_correlation(flow, tmp_path):
    path = tmp_path / "flow.png"
    fig = flow.plot(str(path))
    assert path.stat().st_size > 20_000
    axes = all_axes(fig)
    assert len(axes) == 4 + (flow.n_layers - 1)
    assert tick_labels(axes[0]) == ["0", "1", "2", "3", "4"]
    for ax in axes[1:3]:
        assert tick_labels(ax) == ["0->1", "1->2", "2->3", "3->4"]  # not half-integer positions
    bars = [patch.get_height() for patch in axes[2].patches]
    np.testing.assert_allclose(bars, np.nan_to_num(flow.layer_coefficients))
    for l, ax in enumerate(axes[4:]):
        assert ax.get_title() == f"{l}->{l + 1}:  r = {flow.layer_coefficients[l]:.3f}"
        valid = np.isfinite(flow.node_curvature[l]) & np.isfinite(flow.node_eta[l])
        offsets = ax.collections[0].get_offsets()
        assert len(offsets) == valid.sum()  # one panel per transition, its own points only
        np.testing.assert_allclose(offsets[:, 0], flow.node_curvature[l][valid])
    assert f"{flow.global_coefficient:.3f}" in axes[2].get_title()
    assert assert_legends_outside(fig) == 0
    plt.close(fig)


def test_plot_flow_uses_layer_names(flow):
    fig = plotting.plot_flow(Named(flow, ["in", "a", "b", "c", "out"]))
    axes = all_axes(fig)
    assert tick_labels(axes[0]) == ["in", "a", "b", "c", "out"]
    assert tick_labels(axes[1]) == ["in->a", "a->b", "b->c", "c->out"]
    assert axes[4].get_title().startswith("in->a:")
    plt.close(fig)
    long = ["input"] + [f"encoder.block{i}.relu" for i in range(4)]
    fig = plotting.plot_flow(Named(flow, long))
    axes = all_axes(fig)
    assert tick_labels(axes[1]) == ["0->1", "1->2", "2->3", "3->4"]  # indices on the axes ...
    assert "input -> encoder" in axes[4].get_title()  # ... names in the panels
    plt.close(fig)


def test_plot_flow_wraps_small_multiples(flow):
    fig = plotting.plot_flow(flow, max_columns=3)
    assert len(all_axes(fig)) == 4 + 4  # 2 rows of 3, one hidden
    assert len(fig.get_axes()) == 4 + 6
    plt.close(fig)
    with pytest.raises(ValueError, match="max_columns"):
        plotting.plot_flow(flow, max_columns=0)


def test_plot_layer(flow, tmp_path):
    X = np.random.default_rng(0).normal(size=(100, 2))
    layer = rf.layer_curvature(X, 6)
    fig = layer.plot(str(tmp_path / "layer.png"), points=X)
    axes = [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>"]
    assert len(axes) == 4
    assert sum(patch.get_height() for patch in axes[0].patches) == layer.graph.n_edges
    assert len(axes[3].collections[0].get_segments()) == layer.graph.n_edges
    assert "geodesic sum" in axes[2].get_ylabel()
    plt.close(fig)
    fig = rf.layer_curvature(X, 6, geodesics=False).plot()
    assert fig.get_axes()[2].get_ylabel() == "degree"
    plt.close(fig)
    with pytest.raises(ValueError, match="points"):
        layer.plot(points=X[:, :1])


def history_table():
    epochs = [0, 5, 10]
    return pd.DataFrame({
        "epoch": epochs, "global_coefficient": [-0.1, -0.3, -0.5], "mean_local_coefficient": [-0.1, -0.2, -0.2],
        "negative_local_share": [0.5, 0.6, 0.7], "disconnected_layers": [0, 0, 0], "warnings": ["", "", ""],
        "layer_coefficient_0": [0.1, 0.0, -0.1], "layer_coefficient_1": [0.2, 0.1, 0.0],
        "curvature_gap_0": [0.1, 0.2, 0.3], "curvature_gap_1": [0.0, 0.1, 0.1], "curvature_gap_2": [0.3, 0.2, 0.1],
        "loss": [0.7, 0.4, 0.2],
    }).set_index("epoch")


def test_plot_history_legends_outside_and_user_metrics(tmp_path):
    fig = plotting.plot_history(history_table(), str(tmp_path / "history.png"))
    axes = fig.get_axes()
    assert len(axes) == 4
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["0->1", "1->2"]
    assert [t.get_text() for t in axes[3].get_legend().get_texts()] == ["loss"]
    assert assert_legends_outside(fig) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="nothing recorded"):
        plotting.plot_history(pd.DataFrame())


def test_plot_topology_and_reproduction_legends_outside():
    index = pd.MultiIndex.from_product([[0, 1, 2], ["a", "b"]], names=["layer", "class"])
    table = pd.DataFrame({"betti_0": [1, 2, 1, 1, 1, 1], "betti_1": [1, 0, 1, 1, 0, 0],
                          "omega": [2, 2, 2, 2, 1, 1]}, index=index)
    fig = plotting.plot_topology(table)
    assert assert_legends_outside(fig) == 1
    plt.close(fig)
    rng = np.random.default_rng(0)
    runs = pd.DataFrame({"dataset": np.repeat(["circles", "digits", "tori"], 8), "accuracy": rng.uniform(0.9, 1, 24),
                         "global_coefficient": rng.uniform(-1, 1, 24), "mean_local_coefficient": rng.uniform(-1, 0, 24),
                         "untrained_mean_local_coefficient": rng.uniform(-1, 0, 24)})
    fig = plotting.plot_reproduction(runs)
    assert assert_legends_outside(fig) == 2
    assert len(fig.get_axes()[0].collections) == 3
    plt.close(fig)


def test_demo_writes_only_the_figure_it_is_told_to(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    from ricci_fast.demo import run_demo

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "new" / "folder" / "demo.png"
    run_demo(out=str(out), n_points=200, k=10, progress=False, backend="sklearn")
    written = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _, fs in os.walk(tmp_path) for f in fs)
    assert written == [os.path.join("new", "folder", "demo.png")]
    run_demo(out=None, n_points=200, k=10, progress=False, backend="sklearn")
    assert len(list(tmp_path.rglob("*"))) == 3  # nothing new
    assert "figure written" in capsys.readouterr().out


def test_plot_demo_adds_the_training_history_row(flow, tmp_path):
    fig = plotting.plot_demo(flow, history_table(), str(tmp_path / "demo.png"))
    assert len(all_axes(fig)) == 4 + (flow.n_layers - 1) + 4
    assert_legends_outside(fig)
    plt.close(fig)
    fig = plotting.plot_demo(flow, None)
    assert len(all_axes(fig)) == 4 + (flow.n_layers - 1)
    plt.close(fig)
