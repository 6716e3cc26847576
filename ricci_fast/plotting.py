"""Figures of flows, layers, training histories and topology (matplotlib, an optional extra:
pip install ".[plot]").

Every function saves to `path` when it is given and returns the matplotlib Figure.  Layers are
labelled with `flow.layer_names` when the flow has them (else 0, 1, ...) and transitions as "a->b";
legends sit outside the axes so they never cover data.  The quantities are those of
docs/definitions.md (sections 2-4).
"""

from __future__ import annotations

import math

import numpy as np

#: the colour cycle used for transitions and layers (matplotlib's default "tab10")
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
            "tab:olive", "tab:cyan")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install \".[plot]\".") from None
    return plt


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def _save(fig, path, dpi=110):
    if path:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return fig


def layer_names(flow) -> list[str]:
    """`flow.layer_names` when the flow has them, else "0", "1", ..."""
    names = getattr(flow, "layer_names", None)
    if names is None or len(names) != flow.n_layers:
        return [str(i) for i in range(flow.n_layers)]
    return [str(name) for name in names]


def transition_names(flow) -> list[str]:
    """"a->b" for every transition of a flow."""
    names = layer_names(flow)
    return [f"{a}->{b}" for a, b in zip(names[:-1], names[1:])]


def _short(name: str, width: int = 16) -> str:
    """name, shortened in the middle to at most width characters."""
    if len(name) <= width:
        return name
    keep = width - 1
    return name[: (keep + 1) // 2] + "\u2026" + name[len(name) - keep // 2:]


def _long(names) -> bool:
    """Layer names too long for tick labels: the axes then show indices, the small panels the names."""
    return max((len(name) for name in names), default=0) > 10


def _set_ticks(ax, labels):
    ax.set_xticks(np.arange(len(labels)))
    crowded = sum(len(label) + 2 for label in labels) > 40
    ax.set_xticklabels(labels, rotation=45 if crowded else 0, ha="right" if crowded else "center",
                       rotation_mode="anchor" if crowded else "default")


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def plot_flow(flow, path: str | None = None, title: str | None = None, max_columns: int = 6):
    """A RicciFlow in two rows.

    Top: total curvature per layer, geodesic change g(l+1) - g(l) per transition, the layer
    coefficients rho_l per transition (with the global coefficient as a dashed line), and the histogram
    of local coefficients.  Below: node curvature S_l(x) against local expansion eta_l(x), one small
    panel per transition with its correlation r (= rho_l) and least-squares line, at most
    max_columns panels to a row.
    """
    plt = _pyplot()
    rows = _check_columns(flow, max_columns)
    fig = plt.figure(figsize=(17, 4.2 + 2.9 * rows), layout="constrained")
    _draw_flow(fig, flow, max_columns)
    fig.suptitle(title or f"{flow.kind} curvature: global coefficient {flow.global_coefficient:.3f}")
    return _save(fig, path)


def _check_columns(flow, max_columns) -> int:
    """Rows of small multiples for the transitions of a flow."""
    if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise ValueError(f"max_columns must be a positive integer, got {max_columns!r}.")
    return math.ceil((flow.n_layers - 1) / min(flow.n_layers - 1, max_columns))


def _draw_flow(target, flow, max_columns):
    layers = layer_names(flow)
    transitions = transition_names(flow)
    n_trans = len(transitions)
    columns = min(n_trans, max_columns)
    rows = math.ceil(n_trans / columns)
    long = _long(layers)
    if long:
        ticks = [str(i) for i in range(flow.n_layers)]
        tick_transitions = [f"{i}->{i + 1}" for i in range(n_trans)]
    else:
        ticks, tick_transitions = layers, transitions
    top, bottom = target.subfigures(2, 1, height_ratios=[4.2, 2.9 * rows])
    axes = top.subplots(1, 4)

    axes[0].plot(np.arange(flow.n_layers), flow.total_curvature, "o-", color="tab:blue")
    _set_ticks(axes[0], ticks)
    axes[0].set(xlabel="layer (index)" if long else "layer", ylabel="total curvature", title="Curvature per layer\n(sum over edges)")

    steps = np.arange(n_trans)
    axes[1].plot(steps, flow.eta, "o-", color="tab:orange")
    axes[1].axhline(0, color="grey", lw=0.8)
    _set_ticks(axes[1], tick_transitions)
    axes[1].set(xlabel="transition", ylabel="g(l+1) - g(l)", title="Geodesic change\n(layer geodesic sums)")

    coefficients = np.asarray(flow.layer_coefficients, dtype=np.float64)
    axes[2].bar(steps, np.nan_to_num(coefficients), color=[_colour(l) for l in range(n_trans)])
    axes[2].axhline(0, color="grey", lw=0.8)
    global_text = "undefined"
    if np.isfinite(flow.global_coefficient):
        axes[2].axhline(flow.global_coefficient, color="black", ls="--", lw=1)
        global_text = f"{flow.global_coefficient:.3f} (dashed)"
    _set_ticks(axes[2], tick_transitions)
    axes[2].set(xlabel="transition", ylabel="layer coefficient rho_l", ylim=(-1.05, 1.05),
                title=f"Layer coefficients\nglobal {global_text}")

    local = _finite(flow.local_coefficients)
    axes[3].hist(local, bins=30, range=(-1, 1), color="tab:green")
    axes[3].axvline(0, color="grey", lw=0.8)
    if local.size:
        axes[3].axvline(local.mean(), color="black", ls="--", lw=1)
        local_title = f"Local coefficients\n{np.mean(local < 0):.0%} negative, mean {local.mean():.3f} (dashed)"
    else:
        local_title = "Local coefficients\nnone defined"
    axes[3].set(xlabel="local Ricci coefficient", ylabel="points", title=local_title)

    small = np.atleast_1d(bottom.subplots(rows, columns, squeeze=False).ravel())
    for l, ax in enumerate(small):
        if l >= n_trans:
            ax.set_visible(False)
            continue
        S, eta = np.asarray(flow.node_curvature[l], float), np.asarray(flow.node_eta[l], float)
        valid = np.isfinite(S) & np.isfinite(eta)
        ax.scatter(S[valid], eta[valid], s=3, alpha=0.35, color=_colour(l), linewidths=0, rasterized=True)
        r = coefficients[l]
        if valid.sum() >= 2 and np.isfinite(r):
            slope, intercept = np.polyfit(S[valid], eta[valid], 1)
            xs = np.array([S[valid].min(), S[valid].max()])
            ax.plot(xs, slope * xs + intercept, color="black", lw=1)
        r_text = f"r = {r:.3f}" if np.isfinite(r) else "r undefined"
        if long:
            title = f"{l}->{l + 1}:  {r_text}\n{_short(layers[l], 16)} -> {_short(layers[l + 1], 16)}"
        else:
            title = f"{transitions[l]}:  {r_text}"
        ax.set_title(title, fontsize="small" if long else "medium")
        ax.tick_params(labelsize="small")
        if l % columns == 0:
            ax.set_ylabel("expansion eta_l(x)")
        if l >= n_trans - columns:
            ax.set_xlabel("node curvature S_l(x)")
    bottom.suptitle("Node curvature against local expansion, per transition", fontsize="medium")


def plot_layer(layer, path: str | None = None, title: str | None = None, points=None):
    """One LayerCurvature: histograms of edge and node curvature and node curvature against the node's
    geodesic sum G(x) (or its degree when geodesic sums were not computed).  With points (an (N, 2)
    array, e.g. the probe points or a 2-D embedding of them) a fourth panel draws the k-NN graph there,
    each edge coloured by its curvature."""
    plt = _pyplot()
    if points is not None:
        points = np.asarray(points, dtype=np.float64)
        if points.shape != (layer.n_points, 2):
            raise ValueError(
                f"points: expected shape ({layer.n_points}, 2), one 2-D position per point, got {points.shape}; "
                "project the activations first (e.g. sklearn.decomposition.PCA(2))."
            )
    panels = 4 if points is not None else 3
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.9), layout="constrained")
    graph = layer.graph
    rows = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    upper = graph.indices > rows  # each undirected edge once
    edge_values = np.asarray(layer.edge_curvature, dtype=np.float64)[upper]
    axes[0].hist(edge_values, bins=40, color="tab:blue")
    axes[0].set(xlabel="edge curvature", ylabel="edges", title=f"Edges ({edge_values.size})")
    node = np.asarray(layer.node_curvature, dtype=np.float64)
    axes[1].hist(_finite(node), bins=40, color="tab:orange")
    axes[1].set(xlabel="node curvature S(x)", ylabel="points", title=f"Points ({layer.n_points})")
    sums = layer.node_geodesic_sums
    if sums is not None and np.all(np.isfinite(sums)):
        axes[2].scatter(node, sums, s=4, alpha=0.4, linewidths=0, rasterized=True)
        axes[2].set(xlabel="node curvature S(x)", ylabel="geodesic sum G(x)", title="Curvature vs geodesic sum")
    else:
        axes[2].scatter(node, graph.degrees, s=4, alpha=0.4, linewidths=0, rasterized=True)
        axes[2].set(xlabel="node curvature S(x)", ylabel="degree", title="Curvature vs degree")
    if points is not None:
        from matplotlib.collections import LineCollection

        a, b = rows[upper], graph.indices[upper]
        segments = np.stack([points[a], points[b]], axis=1)
        lines = LineCollection(segments, array=edge_values, cmap="coolwarm_r", linewidths=0.6, alpha=0.8)
        axes[3].add_collection(lines)
        axes[3].scatter(points[:, 0], points[:, 1], s=2, color="black", linewidths=0)
        axes[3].autoscale()
        axes[3].set(title="k-NN graph, edges by curvature", aspect="equal")
        fig.colorbar(lines, ax=axes[3], label="edge curvature", shrink=0.9)
    name = getattr(layer, "name", None)
    g = "not computed" if layer.geodesic_sum is None else f"{layer.geodesic_sum:.4g}"
    fig.suptitle(title or (f"{'layer ' + str(name) + ': ' if name is not None else ''}{layer.kind} curvature, "
                           f"total {layer.total_curvature:.4g}, geodesic sum {g}, {layer.n_components} component(s)"))
    return _save(fig, path)


# columns of a RicciFlowMonitor.history that are not user metrics
_HISTORY_OWN = {"global_coefficient", "mean_local_coefficient", "negative_local_share", "disconnected_layers",
                "warnings", "flow_computed", "n_joined_edges"}


def _history_label(column: str, prefix: str, transition: bool) -> str:
    """The layer or transition a history column is about: "layer_coefficient[a->b]" gives "a->b"."""
    suffix = column[len(prefix):]
    if suffix.endswith("]"):
        suffix = suffix[:-1]
    if transition and suffix.isdigit():  # an older history: layer_coefficient_0 is transition 0->1
        return f"{suffix}->{int(suffix) + 1}"
    return suffix


def _prefixed(columns, name: str):
    """(prefix, columns) of the columns named name[...] (or the older name_0, name_1, ...)."""
    bracket = [c for c in columns if c.startswith(name + "[")]
    if bracket:
        return name + "[", bracket
    return name + "_", [c for c in columns if c.startswith(name + "_")]


def _legend_outside(ax, **kwargs):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize="small", frameon=False,
                  **kwargs)


def _history_columns(history):
    _, layer_cols = _prefixed(history.columns, "layer_coefficient")
    _, gaps = _prefixed(history.columns, "curvature_gap")
    extra = [c for c in history.columns
             if c not in _HISTORY_OWN and c not in layer_cols and c not in gaps
             and np.issubdtype(history[c].dtype, np.number)]
    return layer_cols, gaps, extra


def plot_history(history, path: str | None = None, title: str | None = None):
    """Coefficients over training epochs (a RicciFlowMonitor.history table): global and mean local
    coefficients, the layer coefficient of every transition, the curvature gap of every layer when
    recorded, and the user's own numeric metrics (loss, accuracy, ...) when there are any."""
    plt = _pyplot()
    if len(history) == 0 or "global_coefficient" not in history:
        raise ValueError("history: nothing recorded yet (call monitor.step(epoch) during training first).")
    layer_cols, gaps, extra = _history_columns(history)
    n_panels = 2 + bool(gaps) + bool(extra)
    fig = plt.figure(figsize=(5.6 * n_panels, 3.8), layout="constrained")
    _draw_history(fig, history)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _draw_history(target, history):
    layer_cols, gaps, extra = _history_columns(history)
    n_panels = 2 + bool(gaps) + bool(extra)
    axes = np.atleast_1d(target.subplots(1, n_panels))
    everything = history
    if "flow_computed" in history:  # rows holding only the user's metrics, at epochs without a flow
        history = history[history["flow_computed"].astype(bool)]
    layer_prefix, _ = _prefixed(history.columns, "layer_coefficient")
    gap_prefix, _ = _prefixed(history.columns, "curvature_gap")
    epochs = history.index.to_numpy()
    axes[0].plot(epochs, history["global_coefficient"], "o-", color="black", label="global")
    axes[0].plot(epochs, history["mean_local_coefficient"], "s-", color="tab:green", label="mean local")
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="Ricci coefficient", title="Ricci coefficients during training")
    _legend_outside(axes[0])
    for i, column in enumerate(layer_cols):
        axes[1].plot(epochs, history[column], ".-", color=_colour(i),
                     label=_history_label(column, layer_prefix, transition=True))
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(xlabel="epoch", ylabel="layer coefficient", title="Layer coefficients during training")
    _legend_outside(axes[1], title="transition")
    panel = 2
    if gaps:
        for i, column in enumerate(gaps):
            axes[panel].plot(epochs, history[column], ".-", color=_colour(i),
                             label=_history_label(column, gap_prefix, transition=False))
        axes[panel].set(xlabel="epoch", ylabel="curvature gap", title="Within- minus between-class curvature")
        _legend_outside(axes[panel], title="layer")
        panel += 1
    if extra:
        for column in extra:
            axes[panel].plot(everything.index.to_numpy(), everything[column], ".-", label=column)
        axes[panel].set(xlabel="epoch", ylabel="value", title="Recorded metrics")
        _legend_outside(axes[panel])


def plot_demo(flow, history=None, path: str | None = None, title: str | None = None, max_columns: int = 6):
    """plot_flow's panels and, with a RicciFlowMonitor history, plot_history's below them, in one figure."""
    plt = _pyplot()
    rows = _check_columns(flow, max_columns)
    flow_height = 4.2 + 2.9 * rows
    if history is None or len(history) == 0:
        return plot_flow(flow, path, title, max_columns)
    fig = plt.figure(figsize=(17, flow_height + 4.0), layout="constrained")
    upper, lower = fig.subfigures(2, 1, height_ratios=[flow_height, 4.0])
    _draw_flow(upper, flow, max_columns)
    _draw_history(lower, history)
    lower.suptitle("During training (RicciFlowMonitor)", fontsize="medium")
    fig.suptitle(title or f"{flow.kind} curvature: global coefficient {flow.global_coefficient:.3f}")
    return _save(fig, path)


def plot_topology(table, path: str | None = None):
    """Betti numbers and omega per layer and class (a flow_topology table), as in Naitzat et al.; one
    legend for the classes, outside the panels."""
    plt = _pyplot()
    betti_columns = [c for c in table.columns if c.startswith("betti_")]
    quantities = betti_columns + ["omega"]
    fig, axes = plt.subplots(1, len(quantities), figsize=(4.2 * len(quantities) + 1.2, 3.6), layout="constrained")
    axes = np.atleast_1d(axes)
    for label, frame in table.groupby(level="class"):
        layers = frame.index.get_level_values("layer")
        for ax, column in zip(axes, quantities):
            ax.plot(layers, frame[column], "o-", label=f"class {label}")
    for ax, column in zip(axes, quantities):
        ax.set(xlabel="layer", ylabel=column.replace("_", " "), title=column.replace("betti_", "beta_"))
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize="small", frameon=False)
    return _save(fig, path)


def plot_reproduction(table, path: str | None = None):
    """The reproduction study (bench/reproduce.py's per-network table: columns dataset, accuracy,
    global_coefficient, mean_local_coefficient, untrained_mean_local_coefficient): global coefficient
    against accuracy per data set, and the mean local coefficients before and after training."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    for i, (name, frame) in enumerate(table.groupby("dataset")):
        axes[0].scatter(frame["global_coefficient"], frame["accuracy"], label=name, s=18, color=_colour(i))
    axes[0].axvline(0, color="grey", lw=0.8)
    axes[0].set(xlabel="global Ricci coefficient (trained)", ylabel="probe accuracy", title="Coefficient vs accuracy")
    _legend_outside(axes[0], title="data")
    bins = np.linspace(-1, 1, 41)
    axes[1].hist(table["untrained_mean_local_coefficient"].dropna(), bins=bins, alpha=0.6, label="untrained")
    axes[1].hist(table["mean_local_coefficient"].dropna(), bins=bins, alpha=0.6, label="trained")
    axes[1].axvline(0, color="grey", lw=0.8)
    axes[1].set(xlabel="mean local Ricci coefficient", ylabel="networks", title="Local coefficients")
    _legend_outside(axes[1])
    return _save(fig, path)
