"""mkdocs hook: pages take sections of README.md at build time, so tables and instructions are kept
in one place and cannot drift.

In a page, a line `<!-- readme: Heading -->` is replaced by the body of README's `## Heading` section
(up to the next `## `), its `###` sub-headings raised to `##`; links into docs/ are made relative to the
docs folder.  A heading README does not have fails the build, naming the headings it has.
"""

from __future__ import annotations

import os
import re

DIRECTIVE = re.compile(r"^<!-- readme: (.+?) -->[ \t]*$", re.MULTILINE)
_README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def readme_sections(text: str) -> dict[str, str]:
    """{heading: body} for every `## ` section of a Markdown text (fenced code blocks are skipped)."""
    sections: dict[str, list[str]] = {}
    current = None
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}


def _adapt(body: str) -> str:
    # README's links into docs/ point from the repository root; pages live inside docs/
    body = re.sub(r"\]\(docs/", "](", body)
    # a README "### x" sits under the including page's "# Title": one level up
    return re.sub(r"^#(#{2,}) ", r"\1 ", body, flags=re.MULTILINE)


def expand(markdown: str, readme_text: str, page: str = "page") -> str:
    sections = readme_sections(readme_text)

    def replace(match):
        name = match.group(1).strip()
        if name not in sections:
            raise ValueError(f"{page}: README.md has no section '## {name}'; it has: {sorted(sections)}")
        return _adapt(sections[name])

    return DIRECTIVE.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files):
    if "<!-- readme:" not in markdown:
        return markdown
    from mkdocs.exceptions import PluginError

    with open(_README, encoding="utf-8") as handle:
        readme = handle.read()
    try:
        return expand(markdown, readme, page.file.src_path)
    except ValueError as exc:
        raise PluginError(str(exc)) from None
