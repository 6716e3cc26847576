"""Layout: the distributed code sits above the local code; no local module imports ricci_fast.distributed."""

import ast
import pathlib
import subprocess
import sys

import ricci_fast

PACKAGE = pathlib.Path(ricci_fast.__file__).parent
#: Modules above the local path: the cluster code itself (one module per scale: many networks, one big layer) and
#: the command line that drives it.
ABOVE_LOCAL = {"ricci_fast.distributed", "ricci_fast.distributed_layer", "ricci_fast.cli"}


def local_modules():
    import ricci_fast.kernels

    names = ["ricci_fast"]
    for package, prefix in ((PACKAGE, "ricci_fast."), (pathlib.Path(ricci_fast.kernels.__file__).parent,
                                                         "ricci_fast.kernels.")):
        for path in sorted(package.glob("*.py")):
            if path.stem != "__init__":
                names.append(prefix + path.stem)
    names.append("ricci_fast.kernels")
    return [n for n in names if n not in ABOVE_LOCAL]


def _module_path(name):
    import importlib.util

    return pathlib.Path(importlib.util.find_spec(name).origin)


def _imports_distributed(tree) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            lines += [node.lineno for a in node.names if a.name.startswith("ricci_fast.distributed")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.startswith("ricci_fast.distributed") or (node.level and module == "distributed"):
                lines.append(node.lineno)
            elif module in ("ricci_fast", "") and any(a.name == "distributed" for a in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):  # importlib.import_module("ricci_fast.distributed"), __import__(...)
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "ricci_fast.distributed" in arg.value:
                    lines.append(node.lineno)
    return lines


def test_no_local_module_source_imports_distributed():
    modules = local_modules()
    assert "ricci_fast.geodesics" in modules and "ricci_fast.kernels.bfs" in modules
    offenders = {}
    for name in modules:
        path = _module_path(name)
        lines = _imports_distributed(ast.parse(path.read_text(), str(path)))
        if lines:
            offenders[name] = lines
    assert not offenders, f"local modules import ricci_fast.distributed (module: lines): {offenders}"


def test_the_checker_finds_each_form_of_import():
    for source in ("import ricci_fast.distributed", "from ricci_fast.distributed import flow_many",
                   "from ricci_fast import distributed", "from . import distributed", "from .distributed import x",
                   "def f():\n    import importlib\n    importlib.import_module('ricci_fast.distributed')"):
        assert _imports_distributed(ast.parse(source)), source
    assert not _imports_distributed(ast.parse("from dask import distributed\nimport ricci_fast.flow"))


def test_importing_every_local_module_leaves_distributed_unimported():
    code = (
        "import importlib, sys, json\n"
        f"failed = {{}}\nfor name in {local_modules()!r} + ['ricci_fast.cli']:\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except ImportError as exc:  # an optional extra (torch, ripser, matplotlib) that is not installed\n"
        "        failed[name] = str(exc)\n"
        "import ricci_fast as rf\n"
        "import numpy as np\n"
        "g = rf.knn_graph(np.random.default_rng(0).normal(size=(60, 3)), 5)\n"
        "rf.geodesic_sums(g); rf.ricci_flow([np.random.default_rng(i).normal(size=(60, 3)) for i in range(4)], 5, "
        "progress=False)\n"
        "print(json.dumps({'loaded': 'ricci_fast.distributed' in sys.modules, 'failed': failed}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] is False
    assert "ricci_fast.geodesics" not in report["failed"] and "ricci_fast.flow" not in report["failed"]


def test_submodules_are_reached_as_attributes_without_loading_optional_packages():
    # the README names rf.datasets; `import ricci_fast as rf` alone must reach it, and must not pull in the
    # optional frameworks that other lazily reached submodules need
    code = ("import sys, ricci_fast as rf; X, y = rf.datasets.concentric_circles(50); "
            "assert X.shape == (50, 2), X.shape; "
            "assert callable(rf.flow_topology) and rf.stats.pooled_coefficient is rf.pooled_coefficient; "
            "heavy = [m for m in ('torch', 'dask', 'matplotlib', 'ripser') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
