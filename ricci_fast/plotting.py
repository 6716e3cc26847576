"""Figures of a RicciFlow (matplotlib, an optional extra: pip install 'ricci_fast[plot]')."""

from __future__ import annotations

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'ricci_fast[plot]'.") from None
    return plt


def plot_flow(flow, path: str | None = None, title: str | None = None):
    """Four panels: total curvature per layer, geodesic change per transition, node curvature S_l(x)
    against local expansion eta_l(x) for every transition, and the histogram of local coefficients.
    Saves to `path` when given; returns the matplotlib Figure."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    layers = np.arange(flow.n_layers)
    axes[0].plot(layers, flow.total_curvature, "o-")
    axes[0].set(xlabel="layer", ylabel="total curvature", title="Curvature per layer")
    axes[1].plot(layers[:-1] + 0.5, flow.eta, "o-", color="tab:orange")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(xlabel="transition l -> l+1", ylabel="g(l+1) - g(l)", title="Geodesic change")
    for l in range(flow.n_layers - 1):
        axes[2].scatter(flow.node_curvature[l], flow.node_eta[l], s=4, alpha=0.4, label=f"{l}->{l + 1}")
    axes[2].set(xlabel="node curvature S_l(x)", ylabel="expansion eta_l(x)", title="Curvature vs expansion")
    axes[2].legend(markerscale=3, fontsize="small")
    local = flow.local_coefficients[np.isfinite(flow.local_coefficients)]
    axes[3].hist(local, bins=30, range=(-1, 1), color="tab:green")
    axes[3].axvline(0, color="grey", lw=0.8)
    axes[3].set(xlabel="local Ricci coefficient", ylabel="points",
                title=f"Local coefficients ({np.mean(local < 0):.0%} negative)" if local.size else "Local coefficients")
    fig.suptitle(title or f"{flow.kind} curvature: global coefficient {flow.global_coefficient:.3f}")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


def plot_history(history, path: str | None = None):
    """Coefficients over training epochs (a RicciFlowMonitor.history table): global, mean local and the
    per-layer coefficients, and the curvature gap per layer when recorded."""
    plt = _pyplot()
    gaps = [c for c in history.columns if c.startswith("curvature_gap[")]
    fig, axes = plt.subplots(1, 3 if gaps else 2, figsize=(15 if gaps else 10, 3.8))
    if "flow_computed" in history:  # rows of user metrics only, at epochs without a flow
        history = history[history["flow_computed"].astype(bool)]
    epochs = history.index.to_numpy()
    axes[0].plot(epochs, history["global_coefficient"], "o-", label="global")
    axes[0].plot(epochs, history["mean_local_coefficient"], "s-", label="mean local")
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="Ricci coefficient", title="Ricci coefficients during training")
    axes[0].legend()
    for column in [c for c in history.columns if c.startswith("layer_coefficient[")]:
        axes[1].plot(epochs, history[column], ".-", label=column[len("layer_coefficient["):-1])
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(xlabel="epoch", ylabel="layer coefficient", title="Per transition")
    axes[1].legend(fontsize="small")
    if gaps:
        for column in gaps:
            axes[2].plot(epochs, history[column], ".-", label=column[len("curvature_gap["):-1])
        axes[2].set(xlabel="epoch", ylabel="curvature gap", title="Within- minus between-class curvature")
        axes[2].legend(fontsize="small")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


def plot_topology(table, path: str | None = None):
    """Betti numbers and omega per layer and class (a flow_topology table), as in Naitzat et al."""
    plt = _pyplot()
    betti_columns = [c for c in table.columns if c.startswith("betti_")]
    fig, axes = plt.subplots(1, len(betti_columns) + 1, figsize=(4.2 * (len(betti_columns) + 1), 3.6))
    for label, frame in table.groupby(level="class"):
        layers = frame.index.get_level_values("layer")
        for ax, column in zip(axes, betti_columns + ["omega"]):
            ax.plot(layers, frame[column], "o-", label=f"class {label}")
    for ax, column in zip(axes, betti_columns + ["omega"]):
        ax.set(xlabel="layer", ylabel=column.replace("_", " "), title=column.replace("betti_", "beta_"))
        ax.legend(fontsize="small")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig
