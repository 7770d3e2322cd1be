"""`.namiignore` follows gitignore semantics for the patterns people actually write."""

from __future__ import annotations

import pytest

from nami_action.package.ignore import parse_ignore


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("*.md", "README.md", False, True),
        ("*.md", "docs/deep/x.md", False, True),  # no slash: any depth
        ("*.md", "md", False, False),
        ("docs/*.md", "docs/x.md", False, True),  # slash inside: anchored
        ("docs/*.md", "a/docs/x.md", False, False),
        ("docs/*.md", "docs/sub/x.md", False, False),  # `*` does not cross `/`
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # dir-only pattern skips files
        ("build/", "src/build", True, True),
        ("**/fixtures", "a/b/fixtures", True, True),
        ("**/fixtures", "fixtures", True, True),
        ("a/**/b", "a/b", True, True),
        ("a/**/b", "a/x/y/b", True, True),
        ("logs/**", "logs/x/y.txt", False, True),
        ("?.py", "a.py", False, True),
        ("?.py", "ab.py", False, False),
        ("[ab].py", "b.py", False, True),
        ("[!ab].py", "c.py", False, True),
        ("[!ab].py", "a.py", False, False),
        ("\\#literal", "#literal", False, True),
        ("\\!bang", "!bang", False, True),
        ("a+b(c).txt", "a+b(c).txt", False, True),  # regex metacharacters are literal
        ("secrets.env   ", "secrets.env", False, True),  # trailing spaces dropped
    ],
)
def test_pattern(pattern: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert parse_ignore([pattern]).ignored(path, is_dir) is ignored


def test_comments_and_blank_lines() -> None:
    rules = parse_ignore(["# *.py", "", "   ", "/"])
    assert rules.rules == ()
    assert not rules.ignored("app.py", False)


def test_last_match_wins_with_negation() -> None:
    rules = parse_ignore(["*.json", "!keep.json", "keep.json"])
    assert rules.ignored("keep.json", False)
    rules = parse_ignore(["*.json", "!keep.json"])
    assert not rules.ignored("keep.json", False)
    assert rules.ignored("drop.json", False)
