"""The `ricci-fast` command line.

    ricci-fast flow NET.npz|FOLDER|LAYER.npy [-k 30] [--curvature forman] [--labels y] [--layers a,b,c]
    ricci-fast flow-many MANIFEST.csv --out results.parquet [--scheduler ADDRESS] [--timeout 3600]
    ricci-fast demo [--out FOLDER/demo.png]
    ricci-fast warmup

Every output path is checked (format, pyarrow for .parquet, matplotlib for --plot) before any work, and
a missing folder on the way to it is created.
"""

from __future__ import annotations

import argparse
import os
import sys

SOLVERS = ("exact", "sinkhorn", "sinkhorn_torch")


def _version() -> str:
    from ricci_fast import __version__

    return __version__


def _disconnected_choices() -> tuple:
    from ricci_fast import flow

    return tuple(getattr(flow, "DISCONNECTED", ("raise", "nan")))


def _check_figure_path(path: str, what: str) -> str:
    import importlib.util

    from ricci_fast._io import ensure_parent

    if os.path.splitext(path)[1].lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise ValueError(f"{what}: write figures as .png, .pdf, .svg or .jpg, got {path!r}.")
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(f'{what}: figures need matplotlib: pip install ".[plot]" (from a checkout of ricci_fast).')
    ensure_parent(path)
    return path


def _curvature_options(args) -> dict:
    if args.curvature == "ollivier":
        return {"alpha": args.alpha, "solver": args.solver}
    if args.alpha != 0.0 or args.solver != "exact":
        raise ValueError("--alpha and --solver apply to --curvature ollivier only.")
    return {}


def _flow(args) -> int:
    from ricci_fast._io import check_enough_layers, check_table_path, flow_layers, read_layers, write_table
    from ricci_fast.flow import ricci_flow

    # every output is checked before the work
    for path, what in ((args.out, "--out"), (args.layers_out, "--layers-out")):
        if path:
            check_table_path(path, what)
    if args.plot:
        _check_figure_path(args.plot, "--plot")
    options = _curvature_options(args)
    try:
        named, labels = read_layers(args.file, labels=args.labels, layers=args.layers)
    except FileNotFoundError as exc:
        raise SystemExit(f"ricci-fast: {exc}") from None
    check_enough_layers(named, args.file)
    flow = ricci_flow(
        flow_layers(named),
        args.k,
        curvature=args.curvature,
        symmetrize=args.symmetrize,
        metric=args.metric,
        method=args.method,
        disconnected=args.disconnected,
        geodesic_sources=args.geodesic_sources,
        seed=args.seed,
        progress=not args.no_progress,
        **options,
    )
    print(flow)
    print()
    layer_table = flow.to_pandas("layer")
    if "layer_name" not in layer_table.columns and list(layer_table.index) == list(range(len(named))):
        layer_table.insert(0, "layer_name", list(named))
    if labels is not None:
        layer_table["curvature_gap"] = flow.curvature_gap(labels)
    print(layer_table.to_string(float_format=lambda v: f"{v:.6g}"))
    if args.out:
        write_table(flow.to_pandas("point"), args.out)
        print(f"\nper-point table written to {args.out}")
    if args.layers_out:
        write_table(layer_table, args.layers_out)
        print(f"per-layer table written to {args.layers_out}")
    if args.plot:
        from ricci_fast.plotting import plot_flow

        figure = plot_flow(flow, args.plot)
        import matplotlib.pyplot as plt

        plt.close(figure)
        print(f"figure written to {args.plot}")
    return 0


def _read_manifest(path: str):
    import pandas as pd

    if not os.path.isfile(path):
        raise SystemExit(f"ricci-fast: no such manifest: {path}")
    # ids, paths and names stay strings ("007" is not 7), whatever they look like; empty cells are missing
    text = {name: str for name in ("id", "path", "labels", "layers")}
    try:
        manifest = pd.read_csv(path, converters=text)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the manifest is empty; it needs a header with a 'path' column.") from None
    if "path" not in manifest:
        raise ValueError(f"{path}: the manifest needs a 'path' column (one .npz, .npy or folder per network).")
    base = os.path.dirname(os.path.abspath(path))
    manifest["path"] = [p if not isinstance(p, str) or not p or os.path.isabs(p) else os.path.join(base, p)
                        for p in manifest["path"]]
    return manifest


def _flow_many(args) -> int:
    from ricci_fast._io import check_table_path

    check_table_path(args.out, "--out")
    options = _curvature_options(args)
    manifest = _read_manifest(args.manifest)
    from ricci_fast.distributed import flow_many

    client = None
    if args.scheduler:
        from dask.distributed import Client

        client = Client(args.scheduler)
    timeout = None if args.timeout == 0 else args.timeout
    try:
        table = flow_many(manifest, client, k=args.k, curvature=args.curvature, metric=args.metric,
                          symmetrize=args.symmetrize, method=args.method, disconnected=args.disconnected,
                          out=args.out, timeout=timeout, progress=not args.no_progress, **options)
    finally:
        if client is not None:
            client.close()
    failed = table["error"].astype(bool)
    resumed = table.attrs.get("n_resumed", 0)
    print(f"{len(table)} networks, {int(failed.sum())} failed ({resumed} reused from an earlier run); "
          f"results in {args.out}")
    if failed.any():
        print(table.loc[failed, ["task", "error"]].to_string(index=False))
    return 0


def _demo(args) -> int:
    from ricci_fast.demo import run_demo

    out = args.out
    if out:
        _check_figure_path(out, "--out")
    else:
        print("no --out given: the figure is not written (ricci-fast demo --out FOLDER/demo.png writes it)\n")
    run_demo(out=out, n_points=args.n_points, seed=args.seed, k=args.k, progress=not args.no_progress,
             backend=args.backend)
    return 0


def _warmup(args) -> int:
    try:
        from ricci_fast.warmup import warmup
    except ImportError as exc:
        if getattr(exc, "name", None) != "ricci_fast.warmup":
            raise
        raise SystemExit("ricci-fast: this version of ricci_fast has no warmup module.") from None
    warmup(progress=not args.no_progress)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a non-negative number of seconds")
    return value


def _add_graph_options(parser, disconnected_default: str) -> None:
    from ricci_fast.curvature import CURVATURES
    from ricci_fast.graph import METHODS, METRICS, SYMMETRIZE

    parser.add_argument("-k", "--k", type=int, default=30, help="neighbours per point (default 30)")
    parser.add_argument("--curvature", default="forman", choices=CURVATURES, help="curvature kind (default forman)")
    parser.add_argument("--alpha", type=float, default=0.0, help="idleness for --curvature ollivier (default 0)")
    parser.add_argument("--solver", default="exact", choices=SOLVERS,
                        help="transport solver for --curvature ollivier (default exact)")
    parser.add_argument("--metric", default="euclidean", choices=METRICS, help="k-NN distance (default euclidean)")
    parser.add_argument("--symmetrize", default="union", choices=SYMMETRIZE,
                        help="keep an edge if either end chose the other (union, default) or both did (mutual)")
    parser.add_argument("--method", default="auto", choices=METHODS,
                        help="k-NN search (default auto: exact, approximate NN-descent above 200,000 points)")
    parser.add_argument("--disconnected", default=disconnected_default, choices=_disconnected_choices(),
                        help=f"what a disconnected layer does to the global coefficient (default {disconnected_default})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ricci-fast", description="Discrete Ricci curvature of network layers.")
    parser.add_argument("--version", action="version", version=f"ricci-fast {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    flow = sub.add_parser("flow", help="Ricci coefficients of a network's layers (.npz, folder of .npy files, .npy).")
    flow.add_argument("file", help=".npz whose arrays, in file order, are the layers; or a folder of .npy files, "
                                   "read in natural order (layer2 before layer10)")
    _add_graph_options(flow, "raise")
    flow.add_argument("--labels", metavar="NAME", help="array (or NAME.npy in the folder) holding class labels: "
                                                       "not a layer; adds the curvature gap per layer")
    flow.add_argument("--layers", metavar="A,B,C", help="layers to use, by name, in this order")
    flow.add_argument("--geodesic-sources", type=_positive_int, metavar="M",
                      help="estimate geodesic sums from M random BFS sources (with a standard error)")
    flow.add_argument("--seed", type=int, help="seed for --geodesic-sources")
    flow.add_argument("--out", help="write the per-point table here (.csv or .parquet)")
    flow.add_argument("--layers-out", help="write the per-layer table here (.csv or .parquet)")
    flow.add_argument("--plot", metavar="FILE", help="write the flow's figure here (.png, .pdf, .svg)")
    flow.set_defaults(func=_flow)

    many = sub.add_parser("flow-many", help="Ricci flows of many networks listed in a CSV manifest, on Dask.")
    many.add_argument("manifest", help="CSV with a 'path' column (.npz, .npy or folder per network), optional "
                                       "'id', 'labels' and 'layers' columns, and metadata")
    many.add_argument("--out", required=True, help="results table (.csv or .parquet); each finished row is saved "
                                                   "at once in OUT.journal, and a rerun resumes")
    many.add_argument("--scheduler", help="address of a running dask scheduler (default: a local cluster)")
    _add_graph_options(many, "nan")
    many.add_argument("--timeout", type=_seconds, default=3600.0,
                      help="seconds per network (load + flow) before its row reports a timeout (default 3600; "
                           "0 for no limit)")
    many.set_defaults(func=_flow_many)

    demo = sub.add_parser("demo", help="train a small MLP on a built-in data set and show its Ricci flow")
    demo.add_argument("--out", help="write the figure here (PNG; its folder is created); without it no file is "
                                    "written")
    demo.add_argument("--n-points", type=_positive_int, default=1000,
                      help="training and probe points each (default 1000)")
    demo.add_argument("-k", "--k", type=int, default=30, help="neighbours per point (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and the network (default 0)")
    demo.add_argument("--backend", default="auto", choices=("auto", "torch", "sklearn"),
                      help="train with PyTorch (the default when installed) or scikit-learn")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)

    warm = sub.add_parser("warmup", help="compile and cache every kernel once (for CI images and cluster nodes)")
    warm.add_argument("--no-progress", action="store_true", help="no progress bar")
    warm.set_defaults(func=_warmup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, ImportError, RuntimeError) as exc:
        print(f"ricci-fast: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
