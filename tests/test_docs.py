"""The README is the front page of the manual in docs/: every link in it leads somewhere, and
it leads to every page. (The pages' own links are checked by `make docs`: mkdocs build
--strict, with docs/_hooks/repository_links.py for links to files outside docs/.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from markdown.extensions.toc import slugify
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Inline links and images, `[text](target)`; targets with a scheme are left out.
LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:)([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$")


def outside_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(page: Path) -> set[str]:
    """The ids of the page's headings as the site makes them (Python-Markdown's toc)."""
    headings = [m.group(1) for m in map(HEADING.match, outside_fences(page.read_text())) if m]
    return {slugify(heading.replace("`", ""), "-") for heading in headings}


def readme_links() -> list[str]:
    return [link for line in outside_fences(README.read_text()) for link in LINK.findall(line)]


def test_every_readme_link_resolves() -> None:
    links = readme_links()
    assert len(links) > 10, links
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else README
        assert target.exists(), f"README.md links to {link}: no such file"
        if anchor:
            assert target.suffix == ".md", link
            assert anchor in anchors(target), f"README.md links to {link}: no such heading"


def test_the_readme_leads_to_every_page_of_the_manual() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in readme_links()}
    pages = {page.resolve() for page in (ROOT / "docs").glob("*.md")} - {ROOT / "docs/index.md"}
    missing = sorted(page.name for page in pages - linked)
    assert not missing, f"README.md does not link {missing}"


def test_anchors_follow_the_headings() -> None:
    """The slug rule above is the site's: a heading with code and punctuation."""
    assert "try-it-locally-nami-dev" in anchors(ROOT / "docs" / "nami-dev.md")
    assert "set-up-step-by-step" in anchors(ROOT / "docs" / "github-action.md")


def build(project: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of a small project that uses the site's link hook and its
    validation settings."""
    settings = YAML(typ="base").load((ROOT / "mkdocs.yml").read_text())  # base: keeps !ENV
    config = {
        "site_name": "t",
        "repo_url": "https://github.com/acme/nami",
        "strict": True,
        "validation": settings["validation"],
        "hooks": [str(ROOT / "docs" / "_hooks" / "repository_links.py")],
    }
    (project / "mkdocs.yml").write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GITHUB_SHA": "abc123", "NO_MKDOCS_2_WARNING": "1"},
    )


def test_links_to_repository_files_are_checked_and_point_at_github(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "nami.yaml").write_text("version: 1\n")
    page = tmp_path / "docs" / "index.md"
    page.write_text("# Home\n\n[example](../examples/nami.yaml) [folder](../examples/)\n")
    built = build(tmp_path)
    assert built.returncode == 0, built.stderr
    html = (tmp_path / "site" / "index.html").read_text()
    assert 'href="https://github.com/acme/nami/blob/abc123/examples/nami.yaml"' in html
    assert 'href="https://github.com/acme/nami/tree/abc123/examples"' in html

    page.write_text("# Home\n\n[gone](../examples/gone.yaml)\n\n```\n[code](../no.md)\n```\n")
    built = build(tmp_path)
    assert built.returncode != 0
    assert "links to ../examples/gone.yaml, which is not in the repository" in built.stderr
    assert "no.md" not in built.stderr  # inside a code block: not a link
