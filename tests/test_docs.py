"""The documentation site cannot rot: every README section a page includes exists, every API reference
names a module that exists, and (with the docs extra installed) `mkdocs build --strict` passes."""

import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def load_hook():
    spec = importlib.util.spec_from_file_location("readme_sections", os.path.join(DOCS, "_hooks", "readme_sections.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pages():
    return sorted(glob.glob(os.path.join(DOCS, "*.md")) + glob.glob(os.path.join(DOCS, "*", "*.md")))


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as handle:
        nav = re.findall(r"^\s+- [^:]+: (\S+\.md)$", handle.read(), flags=re.MULTILINE)
    assert sorted(nav) == sorted(os.path.relpath(p, DOCS) for p in pages())
    assert "definitions.md" in nav


def test_readme_sections_the_pages_include_exist():
    hook = load_hook()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    sections = hook.readme_sections(readme)
    included = 0
    for page in pages():
        with open(page, encoding="utf-8") as handle:
            text = handle.read()
        for name in hook.DIRECTIVE.findall(text):
            assert name in sections, f"{os.path.basename(page)} includes README section {name!r}, which is gone"
            included += 1
        expanded = hook.expand(text, readme, page)
        assert "<!-- readme:" not in expanded
        assert "](docs/" not in expanded  # README's links are rewritten for pages inside docs/
    assert included >= 8


def test_hook_extracts_sections_and_rejects_a_missing_one():
    hook = load_hook()
    readme = "# t\n\nintro\n\n## One\n\nbody ![f](docs/a.png)\n\n```\n## not a heading\n```\n\n### Sub\n\nx\n\n## Two\n\ny\n"
    sections = hook.readme_sections(readme)
    assert list(sections) == ["One", "Two"]
    assert "## not a heading" in sections["One"]
    out = hook.expand("# Page\n\n<!-- readme: One -->\n", readme)
    assert "![f](a.png)" in out and "\n## Sub\n" in out and "y" not in out.split("## Sub")[1]
    with pytest.raises(ValueError, match="no section '## Three'"):
        hook.expand("<!-- readme: Three -->", readme)


def test_api_references_name_existing_modules():
    targets = []
    for page in pages():
        with open(page, encoding="utf-8") as handle:
            targets += re.findall(r"^::: (\S+)$", handle.read(), flags=re.MULTILINE)
    assert len(targets) >= 10
    for target in targets:
        parts = target.split(".")
        assert parts[0] == "ricci_fast", target
        # the longest prefix that is a source file (nothing is imported); the rest is defined in it
        for cut in range(len(parts), 1, -1):
            source = os.path.join(ROOT, *parts[:cut]) + ".py"
            if os.path.exists(source):
                break
        else:
            raise AssertionError(f"{target}: no such module in ricci_fast/")
        rest = parts[cut:]
        if rest:
            with open(source, encoding="utf-8") as handle:
                assert re.search(rf"^(class|def) {rest[0]}\b", handle.read(), flags=re.MULTILINE), target


def test_docstrings_cite_only_files_the_user_has():
    offenders = []
    for path in glob.glob(os.path.join(ROOT, "ricci_fast", "*.py")) + glob.glob(os.path.join(ROOT, "kernels", "*.py")):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if "SPEC" in line:
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{number}")
    mine = [o for o in offenders if os.path.basename(o.split(":")[0]) in
            ("plotting.py", "demo.py", "callbacks.py", "__init__.py", "_callbacks_lightning.py", "_callbacks_hf.py")]
    assert not mine, mine


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(tmp_path / "site" / "torch" / "index.html", encoding="utf-8") as handle:
        html = handle.read()
    assert "RicciFlowTrainerCallback" in html and "write_tensorboard" in html  # API reference rendered
    with open(tmp_path / "site" / "benchmarks" / "index.html", encoding="utf-8") as handle:
        assert handle.read().count("<table") >= 3  # README's tables included
