"""The README's Usage and PyTorch examples run as written, on the library's own data sets."""

import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


def run(code: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)  # the examples may write files (training.png)
    namespace = {"__name__": "readme_example"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings (joined graphs) are part of what the examples show
        exec(compile(code, str(README), "exec"), namespace)
    return namespace


def test_usage_examples_run(tmp_path, monkeypatch):
    (code,) = blocks("Usage")
    ns = run(code, tmp_path, monkeypatch)
    flow = ns["flow"]
    assert flow.layer_names == ("input", "relu1", "relu2", "relu3", "relu4")
    assert flow.n_joined_edges[0] == 1  # the two circles at k = 30, joined
    assert ns["orc"].kind == "ollivier"


def test_pytorch_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (code,) = blocks("PyTorch")
    ns = run(code, tmp_path, monkeypatch)
    assert ns["flow"].layer_names == ("input", "encoder.1", "encoder.3", "encoder.5", "head")
    history = ns["monitor"].history
    assert history["flow_computed"].sum() == 4 and history["loss"].notna().all()
    assert (tmp_path / "training.png").stat().st_size > 5000
