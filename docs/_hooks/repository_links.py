"""MkDocs hook: a page's links to files outside docs/ (examples, workflows, locks) point at the
repository on GitHub in the built site, and must exist.

The pages link such files relatively (`../examples/nami.yaml`), so the links also work when the
Markdown is read on GitHub. MkDocs only knows the files under docs/: it would report these
links as not found. Here each one is checked against the checkout (a missing target is a
warning, which `mkdocs build --strict` turns into a failure) and rewritten to
`<repo_url>/blob/<commit>/<path>` (`tree` for a folder). Links to files under docs/ are left to
MkDocs' own validation.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.repository_links")

# An inline link or image whose target is relative (no scheme, not only an anchor).
LINK = re.compile(r"(\]\()(?![a-z][a-z0-9+.-]*:|#)([^)\s#]+)(#[^)\s]*)?\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    docs = Path(config.docs_dir).resolve()
    root = docs.parent
    folder = (docs / page.file.src_path).parent
    # GitHub Actions names the commit being built; elsewhere the default branch.
    ref = os.environ.get("GITHUB_SHA", "main")
    repo_url = (config.repo_url or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        written = match.group(2)
        target = (folder / written).resolve()
        if target.is_relative_to(docs) and not target.is_dir():
            return match.group(0)
        if not target.is_relative_to(root) or not target.exists():
            log.warning(
                "%s links to %s, which is not in the repository", page.file.src_path, written
            )
            return match.group(0)
        kind = "tree" if target.is_dir() else "blob"
        path = target.relative_to(root).as_posix()
        return f"{match.group(1)}{repo_url}/{kind}/{ref}/{path}{match.group(3) or ''})"

    lines = []
    fenced = False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        lines.append(line if fenced else LINK.sub(rewrite, line))
    return "".join(lines)
