"""Reproduction of the published findings under the papers' own protocols (ricci_fast.protocols).

    python bench/reproduce.py --protocol hehl2025              # reduced grid, a few minutes on 2 cores
    python bench/reproduce.py --protocol baptista2024
    python bench/reproduce.py --protocol baptista2024 --fmnist ../shared/data/fmnist-sandal-boot
    python bench/reproduce.py --protocol hehl2025 --full       # the published grid (hours)
    python bench/reproduce.py --protocol hehl2025 --tiny       # a smoke run (CI)

hehl2025 (Hehl, von Renesse, Weber 2025): flows through input + hidden + the 1-unit sigmoid output, k = 50;
per network the mean and negative share of local coefficients (augmented Forman), layer coefficients
(approximate Ollivier), global coefficient (Forman), community measures; before training (local with
exact Ollivier, as their untrained_networks.ipynb) and after training to 99% train accuracy with
full-batch Adam.  baptista2024 (Baptista et al. 2024): flows through the hidden layers only, Forman,
k scanned ([30, 120, 300] at 2000 probe points, scaled to the probe size); the pooled coefficient over
well-trained networks (test accuracy > 0.98) with a bootstrap interval over networks, untrained
baselines, per-network permutation p-values and the bootstrap correlation of coefficient and accuracy.
Writes report.md (tables with the published numbers beside ours), networks.csv and figures to --out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

import ricci_fast as rf
from ricci_fast import datasets, stats
from ricci_fast.protocols import get_protocol, select_layers

# reduced grids (--full restores the protocol's): chosen to run in a few minutes on 2 shared cores
REDUCED = {
    "hehl2025": dict(datasets=("syn1", "syn2", "syn3", "syn4"), widths=(25,), depths=(7, 10),
                     networks_per_architecture=2, probe_size=1000, train_size=1000, epochs=3000),
    "baptista2024": dict(datasets=("spiral_shell", "ellipsoids_cube", "sinusoidal_sheets"), widths=(5, 10, 25),
                         depths=(5,), networks_per_architecture=4, probe_size=500, train_size=1000, epochs=50),
}
TINY = {
    "hehl2025": dict(datasets=("syn1",), widths=(10,), depths=(3,), networks_per_architecture=2, probe_size=120,
                     train_size=150, epochs=200, k=(12,)),
    "baptista2024": dict(datasets=("spiral_shell",), widths=(10,), depths=(4,), networks_per_architecture=2,
                         probe_size=150, train_size=300, epochs=3, k=(8, 20)),
}
# Gaussian noise per Baptista set, so the classes touch a little and accuracy varies across networks
BAPTISTA_NOISE = {"spiral_shell": 0.05, "ellipsoids_cube": 0.03, "sinusoidal_sheets": 0.05}


def load_fmnist(folder):
    """Fashion-MNIST sandals (label 5 -> 0) and ankle boots (label 9 -> 1) from the two CSV files."""
    parts = []
    for name, label in (("test5.csv", 0), ("test9.csv", 1)):
        table = pd.read_csv(os.path.join(folder, name))
        parts.append((table.drop(columns="label").to_numpy(np.float32) / 255.0, np.full(len(table), label)))
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order], y[order]


def load_data(name, protocol, seed):
    """(X_train, y_train, X_probe, y_probe): two independent samples, as Hehl's datasets.py draws them."""
    n_train, n_probe = protocol.train_size, protocol.probe_size
    loader = datasets.DATASETS[name]
    kwargs = {}
    if name in BAPTISTA_NOISE:
        kwargs["noise"] = BAPTISTA_NOISE[name]
    X_tr, y_tr = loader(n_train, seed=1000 + seed, **kwargs)
    X_pr, y_pr = loader(n_probe, seed=2000 + seed, **kwargs)
    return X_tr, y_tr, X_pr, y_pr


def build(width, depth, d_in, seed):
    """Hehl's DNN / Baptista's Keras MLP: depth hidden Linear+ReLU layers, a 1-unit output (sigmoid)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    blocks, d = [], d_in
    for _ in range(depth):
        blocks += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*blocks, nn.Linear(d, 1), nn.Sigmoid())


def accuracy(model, X, y):
    import torch

    with torch.no_grad():
        return float(((model(torch.as_tensor(X)).squeeze(1) > 0.5).numpy() == (y == 1)).mean())


def train(model, X, y, protocol, seed):
    """The protocol's schedule: full-batch Adam until the train accuracy threshold (Hehl's helpers.py) or
    mini-batch RMSprop for fixed epochs on 80% of the data (Baptista's Keras fit, validation_split=0.2)."""
    import torch
    from torch import nn

    loss_fn = nn.BCELoss()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float32)
    params = model.parameters()
    if protocol.optimizer == "adam":
        optimiser = torch.optim.Adam(params, lr=protocol.learning_rate)
    else:
        # Keras RMSprop defaults: rho 0.9, epsilon 1e-7
        optimiser = torch.optim.RMSprop(params, lr=protocol.learning_rate, alpha=0.9, eps=1e-7)
    if protocol.batch_size is None:
        for epoch in range(protocol.epochs):
            out = model(Xt).squeeze(1)
            if protocol.stop_at_train_accuracy is not None:
                if float(((out > 0.5).float() == yt).float().mean()) >= protocol.stop_at_train_accuracy:
                    return epoch
            loss = loss_fn(out, yt)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return protocol.epochs
    cut = int(0.8 * len(Xt))
    generator = torch.Generator().manual_seed(seed)
    for _ in range(protocol.epochs):
        for idx in torch.randperm(cut, generator=generator).split(protocol.batch_size):
            loss = loss_fn(model(Xt[idx]).squeeze(1), yt[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return protocol.epochs


def protocol_layers(model, X, protocol):
    """The protocol's layers.  build() ends the model with an nn.Sigmoid, an activation module that
    capture_activations already takes as the last layer, so it is named "output" here (include_output=
    True would capture it twice, and warn)."""
    from ricci_fast.torch import capture_activations

    acts = OrderedDict(capture_activations(model, X, include_input=True))
    last = next(reversed(acts))
    if acts[last].shape[1] != 1:
        raise ValueError(f"protocol_layers: the last captured layer {last!r} is not the 1-unit sigmoid output.")
    acts["output"] = acts.pop(last)
    return [np.asarray(a) for a in select_layers(acts, protocol).values()]


def graphs_of(layers, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [rf.knn_graph(a, k) for a in layers]


def flow_from_graphs(graphs, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rf.ricci_flow([rf.curvature_of_graph(g, kind, geodesics=False) for g in graphs],
                             disconnected="nan", progress=False)


def local_summary(flow):
    local = flow.local_coefficients[np.isfinite(flow.local_coefficients)]
    return (float(local.mean()) if local.size else np.nan, float(np.mean(local < 0)) if local.size else np.nan)


# --- Hehl et al. 2025 ---------------------------------------------------------------------------------


def hehl_network(model, X_pr, y_pr, protocol, k, state):
    layers = protocol_layers(model, X_pr, protocol)
    graphs = graphs_of(layers, k)
    row = {}
    local_kind = protocol.curvature["local_untrained" if state == "untrained" else "local"]
    local_flow = flow_from_graphs(graphs, local_kind)
    row["mean_local"], row["negative_local_share"] = local_summary(local_flow)
    forman = flow_from_graphs(graphs, protocol.curvature["global"])
    row["global"] = forman.global_coefficient
    row["global_pvalue"] = forman.permutation_pvalue()
    layer_flow = flow_from_graphs(graphs, protocol.curvature["layer"])
    row["layer_coefficients"] = layer_flow.layer_coefficients
    row["effective_depth"] = stats.effective_depth(layer_flow.layer_coefficients)
    row["modularity_first"] = stats.modularity(graphs[0], y_pr)
    row["modularity_last_hidden"] = stats.modularity(graphs[-2], y_pr)
    row["normalized_cut_last_hidden"] = stats.normalized_cut(graphs[-2], y_pr)
    row["curvature_gap_last_hidden"] = rf.curvature_gap(layer_flow.layers[-2], y_pr)
    return row, local_flow


def run_hehl(protocol, args, log):
    k = protocol.k[0]
    rows, first_flows = [], {}
    for name in protocol.datasets:
        for width in protocol.widths:
            for depth in protocol.depths:
                for seed in range(protocol.networks_per_architecture):
                    X_tr, y_tr, X_pr, y_pr = load_data(name, protocol, seed)
                    model = build(width, depth, X_tr.shape[1], seed)
                    before, _ = hehl_network(model, X_pr, y_pr, protocol, k, "untrained")
                    t0 = time.perf_counter()
                    epochs = train(model, X_tr, y_tr, protocol, seed)
                    after, flow = hehl_network(model, X_pr, y_pr, protocol, k, "trained")
                    row = {"dataset": name, "width": width, "depth": depth, "seed": seed, "epochs": epochs,
                           "train_accuracy": accuracy(model, X_tr, y_tr), "accuracy": accuracy(model, X_pr, y_pr),
                           "train_seconds": time.perf_counter() - t0}
                    row.update({f"untrained_{key}": value for key, value in before.items()})
                    row.update(after)
                    rows.append(row)
                    first_flows.setdefault((name, width, depth), (flow, X_pr, y_pr, model))
                    log(f"{name:>6} w={width:<3} d={depth:<3} s={seed} epochs={epochs:<5} acc={row['accuracy']:.3f} "
                        f"local={after['mean_local']:+.3f} (untrained {before['mean_local']:+.3f}) "
                        f"global={after['global']:+.3f}")
    return pd.DataFrame(rows), first_flows


def hehl_report(table, protocol, k, intervals):
    lines = []
    pub = protocol.published
    for name, g in table.groupby("dataset", sort=False):
        lines.append(f"\n#### {name}\n")
        lines.append("| width | depth | networks | probe accuracy | mean local, trained (ours) | published | "
                     "negative share, trained | mean local, untrained (Ollivier) | untrained, published | "
                     "global < 0, trained / untrained |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for (width, depth), h in g.groupby(["width", "depth"]):
            published = pub["mean_local"].get(name, {}).get((width, depth))
            lo, hi = _mean_interval(h["mean_local"].to_numpy())
            lines.append(
                f"| {width} | {depth} | {len(h)} | {h['accuracy'].mean():.3f} | {h['mean_local'].mean():+.3f} "
                f"[{lo:+.3f}, {hi:+.3f}] | {_fmt(published)} | {h['negative_local_share'].mean():.2f} | "
                f"{h['untrained_mean_local'].mean():+.3f} | {_fmt(pub['untrained_local_mean'].get(name))} (w25 d10) | "
                f"{np.mean(h['global'] < 0):.0%} / {np.mean(h['untrained_global'] < 0):.0%} |")
        if name in intervals:
            lines.append(f"\nSubsampling interval ({intervals[name].method}, {intervals[name].n_resamples} subsets) "
                         f"for the mean local coefficient of the first trained network: {intervals[name]}.")
        # networks shallower than 5 hidden layers have fewer transitions: pad with NaN
        prof = np.vstack([np.pad(np.asarray(v, float)[:6], (0, max(0, 6 - len(v))), constant_values=np.nan)
                          for v in g["layer_coefficients"]])
        lines.append(f"\nLayer coefficients (approximate Ollivier), mean over networks, first transitions: "
                     f"{', '.join(f'{v:+.2f}' for v in np.nanmean(prof, axis=0))}; modularity of the class "
                     f"partition, input -> last hidden layer: {g['modularity_first'].mean():.3f} -> "
                     f"{g['modularity_last_hidden'].mean():.3f} (untrained last hidden "
                     f"{g['untrained_modularity_last_hidden'].mean():.3f}); normalised cut, last hidden "
                     f"{g['normalized_cut_last_hidden'].mean():.3f}; curvature gap, last hidden "
                     f"{g['curvature_gap_last_hidden'].mean():+.2f}.")
        # Hehl et al. section 4.4 (reconstructed, ricci_fast.stats.select_depth): per depth the networks'
        # layer coefficients averaged per transition, as their layer_ricci_coefficient.ipynb does
        by_depth = {int(d): np.vstack([np.asarray(v, float) for v in h["layer_coefficients"]])
                    for d, h in g.groupby("depth")}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chosen = stats.select_depth(by_depth)
        effective = ", ".join(f"depth {d}: {stats.effective_depth(c)} of {c.shape[1]}" for d, c in by_depth.items())
        lines.append(f"\nDepth criterion (`rf.select_depth`, tolerance {stats.DEPTH_TOLERANCE}): effective depth "
                     f"(transitions up to the last layer coefficient within tolerance of the lowest) {effective}; "
                     f"selected depth {chosen}" + (" (the deepest networks are still at their lowest coefficient at "
                                                    "the last transition: the grid may be too shallow)"
                                                    if caught else "") + ".")
    return "\n".join(lines)


# --- Baptista et al. 2024 ----------------------------------------------------------------------------------


def run_baptista(protocol, args, log, ks):
    rows, flows = [], {}
    for name in protocol.datasets:
        for width in protocol.widths:
            for depth in protocol.depths:
                for seed in range(protocol.networks_per_architecture):
                    if name == "fmnist-sandal-boot":
                        X, y = load_fmnist(args.fmnist)
                        X_tr, y_tr = X[:protocol.train_size], y[:protocol.train_size]
                        X_pr, y_pr = X[-protocol.probe_size:], y[-protocol.probe_size:]
                    else:
                        X_tr, y_tr, X_pr, y_pr = load_data(name, protocol, seed)
                    model = build(width, depth, X_tr.shape[1], seed)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        before = rf.ricci_flow(protocol_layers(model, X_pr, protocol), k=list(ks),
                                               disconnected="nan", progress=False)
                    t0 = time.perf_counter()
                    train(model, X_tr, y_tr, protocol, seed)
                    acc = accuracy(model, X_pr, y_pr)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        after = rf.ricci_flow(protocol_layers(model, X_pr, protocol), k=list(ks),
                                              disconnected="nan", progress=False)
                    for kk in ks:
                        rows.append({"dataset": name, "width": width, "depth": depth, "seed": seed, "k": kk,
                                     "accuracy": acc, "train_seconds": time.perf_counter() - t0,
                                     "global": after[kk].global_coefficient,
                                     "global_pvalue": after[kk].permutation_pvalue(),
                                     "untrained_global": before[kk].global_coefficient})
                        flows[(name, width, depth, seed, kk)] = (after[kk], before[kk], acc)
                    log(f"{name:>18} w={width:<3} d={depth:<2} s={seed} acc={acc:.3f} " + " ".join(
                        f"k={kk}:{after[kk].global_coefficient:+.2f}" for kk in ks))
    return pd.DataFrame(rows), flows


def baptista_report(table, flows, protocol, ks):
    lines = []
    for name, g in table.groupby("dataset", sort=False):
        lines.append(f"\n#### {name}\n")
        lines.append("| k | networks (well-trained, of them connected) | accuracy range | pooled coefficient, well-trained [95% CI] | "
                     "pooled, all trained | pooled, untrained | per-network global < 0 (trained / untrained) | "
                     "per-network p < 0.05 | corr(global, accuracy) [95% CI] | published |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for kk in ks:
            keys = [key for key in flows if key[0] == name and key[4] == kk]
            trained = [flows[key][0] for key in keys]
            untrained = [flows[key][1] for key in keys]
            acc = np.array([flows[key][2] for key in keys])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                well = stats.pooled_coefficient_interval(trained, acc, protocol.well_trained, n_resamples=1000)
                n_well = int(np.sum(acc > protocol.well_trained))
                # networks whose global coefficient is defined (a disconnected layer drops one)
                n_kept = stats.pooled_coefficient(trained, acc, protocol.well_trained).n_flows
                all_trained = stats.pooled_coefficient_interval(trained, n_resamples=1000)
                base = stats.pooled_coefficient_interval(untrained, n_resamples=1000)
            h = g[g["k"] == kk]
            corr = stats.bootstrap_correlation(h["global"], h["accuracy"], n_resamples=1000)
            lines.append(
                f"| {kk} | {len(keys)} ({n_well}, {n_kept} connected) | {acc.min():.3f}-{acc.max():.3f} | {well} | "
                f"{all_trained} | {base} | "
                f"{np.mean(h['global'] < 0):.0%} / {np.mean(h['untrained_global'] < 0):.0%} | "
                f"{np.mean(h['global_pvalue'] < 0.05):.0%} | {corr} | n/a |")
    return "\n".join(lines)


# --- common -------------------------------------------------------------------------------------------------


def _mean_interval(values, level=0.95, n=2000, seed=0):
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return np.nan, np.nan
    draws = np.random.default_rng(seed).choice(values, size=(n, values.size)).mean(axis=1)
    return tuple(np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]))


def _fmt(value):
    return "n/a" if value is None else f"{value:+.3f}"


def figures(protocol, table, out, extra):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    if protocol.name == "hehl2025":
        names = list(dict.fromkeys(table["dataset"]))
        fig, axes = plt.subplots(1, 2, figsize=(12.5, 4))
        bins = np.linspace(-1, 1, 41)
        for state, colour in (("untrained_mean_local", "tab:grey"), ("mean_local", "tab:blue")):
            axes[0].hist(table[state].dropna(), bins=bins, alpha=0.6, color=colour,
                         label="untrained (Ollivier)" if state.startswith("untrained") else "trained (augmented Forman)")
        axes[0].axvline(0, color="k", lw=0.8)
        axes[0].set(xlabel="mean local Ricci coefficient per network", ylabel="networks",
                    title=f"Hehl et al. protocol, k = {protocol.k[0]}")
        # headroom so the legend sits above the tallest bar, never on it
        axes[0].set_ylim(0, axes[0].get_ylim()[1] * 1.35)
        axes[0].legend(fontsize="small", loc="upper left")
        for name in names:
            g = table[table["dataset"] == name]
            for depth, h in g.groupby("depth"):
                prof = np.nanmean(np.vstack([np.asarray(v, float) for v in h["layer_coefficients"]]), axis=0)
                axes[1].plot(np.arange(prof.size), prof, marker="o", ms=3, label=f"{name} depth {depth}")
        axes[1].axhline(0, color="k", lw=0.8)
        axes[1].set(xlabel="transition (input -> ... -> output)", ylabel="layer Ricci coefficient (approx. Ollivier)",
                    title="Layer coefficients, trained")
        axes[1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        path = os.path.join(out, "hehl2025.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    else:
        ks = sorted(table["k"].unique())
        fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.8), squeeze=False)
        for ax, kk in zip(axes[0], ks):
            h = table[table["k"] == kk]
            for name, g in h.groupby("dataset", sort=False):
                ax.scatter(g["global"], g["accuracy"], s=16, label=name)
            ax.axvline(0, color="k", lw=0.8)
            ax.axhline(protocol.well_trained, color="grey", lw=0.8, ls="--")
            ax.set(xlabel="global Ricci coefficient (hidden layers)", ylabel="probe accuracy", title=f"k = {kk}")
        axes[0][0].legend(fontsize="x-small")
        fig.suptitle("Baptista et al. protocol: per-network coefficient vs accuracy (dashed: well-trained threshold)")
        fig.tight_layout()
        path = os.path.join(out, "baptista2024.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", required=True, choices=["baptista2024", "hehl2025"])
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--widths", nargs="+", type=int)
    parser.add_argument("--depths", nargs="+", type=int)
    parser.add_argument("--networks", type=int, help="networks per architecture (seeds)")
    parser.add_argument("--n-probe", type=int)
    parser.add_argument("--n-train", type=int)
    parser.add_argument("--epochs", type=int, help="epochs (baptista2024) or the cap on full-batch steps (hehl2025)")
    parser.add_argument("--k", nargs="+", type=int, help="default: the protocol's k scaled to the probe size")
    parser.add_argument("--fmnist", help="folder with test5.csv and test9.csv (baptista2024 adds Fashion-MNIST)")
    parser.add_argument("--subsample", type=int, default=10, help="subsets for the subsampling interval (0: none)")
    parser.add_argument("--full", action="store_true", help="the protocol's published grid (hours)")
    parser.add_argument("--tiny", action="store_true", help="a smoke run: one data set, two small networks")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "reproduce"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    protocol = get_protocol(args.protocol)
    if not args.full:
        protocol = protocol.scaled(**(TINY if args.tiny else REDUCED)[protocol.name])
    changes = {key: value for key, value in {
        "datasets": tuple(args.datasets) if args.datasets else None,
        "widths": tuple(args.widths) if args.widths else None,
        "depths": tuple(args.depths) if args.depths else None,
        "networks_per_architecture": args.networks, "probe_size": args.n_probe, "train_size": args.n_train,
        "epochs": args.epochs, "k": tuple(args.k) if args.k else None}.items() if value is not None}
    if args.fmnist and protocol.name == "baptista2024" and "fmnist-sandal-boot" not in protocol.datasets:
        changes["datasets"] = tuple(changes.get("datasets", protocol.datasets)) + ("fmnist-sandal-boot",)
    if changes:
        protocol = protocol.scaled(**changes)
    base = get_protocol(protocol.name)
    if "k" not in changes and not (args.tiny and not args.full):
        # keep the published k / N ratios at a reduced probe size
        ks = tuple(sorted({max(2, int(round(kk * protocol.probe_size / base.probe_size))) for kk in base.k}))
        protocol = protocol.scaled(k=ks) if ks != protocol.k else protocol
    ks = protocol.k
    out = os.path.join(args.out, protocol.name)
    os.makedirs(out, exist_ok=True)
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, flush=True))
    # these networks are tiny: one thread is fastest (more threads spin and wait on a shared machine)
    torch.set_num_threads(1)

    start = time.perf_counter()
    intervals = {}
    if protocol.name == "hehl2025":
        table, first = run_hehl(protocol, args, log)
        if args.subsample:
            for (name, width, depth), (flow, X_pr, y_pr, model) in first.items():
                if name in intervals:
                    continue
                layers = protocol_layers(model, X_pr, protocol)
                intervals[name] = stats.subsample_interval(
                    layers, protocol.k[0], statistic="mean_local", curvature=protocol.curvature["local"],
                    n_resamples=args.subsample, fraction=0.8, seed=0)
        body = hehl_report(table, protocol, protocol.k[0], intervals)
        # per-transition arrays as space-separated text, so the depth criterion can be recomputed from the csv
        table_csv = table.copy()
        for column in ("layer_coefficients", "untrained_layer_coefficients"):
            table_csv[column] = [" ".join(f"{v:.6g}" for v in np.asarray(a, float)) for a in table[column]]
    else:
        table, flows = run_baptista(protocol, args, log, ks)
        body = baptista_report(table, flows, protocol, ks)
        table_csv = table
    seconds = time.perf_counter() - start
    table_csv.to_csv(os.path.join(out, "networks.csv"), index=False)
    paths = figures(protocol, table, out, intervals)
    n_networks = len(table) // (len(ks) if protocol.name == "baptista2024" else 1)
    report = [f"# Reproduction: {protocol.citation}", "",
              f"`python bench/reproduce.py {' '.join(argv if argv is not None else sys.argv[1:])}`: "
              f"{n_networks} networks in {seconds:.0f} s.", "", "## Settings", "", protocol.describe(), "",
              "## Results", body, ""]
    report += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in paths]
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write("\n".join(report) + "\n")
    log("\n".join(["", body, "", f"{n_networks} networks in {seconds:.0f} s; report: {os.path.join(out, 'report.md')}"]))
    return table, seconds


if __name__ == "__main__":
    main()
