"""`.namiignore` follows gitignore semantics for the patterns people actually write."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nami_action.package.ignore import (
    MAX_IGNORE_PATTERNS,
    IgnoreRule,
    PatternError,
    parse_ignore,
)


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
        ("[a-c]x", "bx", False, True),
        ("[a-c]x", "dx", False, False),
        ("[!a-c]x", "dx", False, True),
        ("[]]x", "]x", False, True),  # `]` first in a class is a member
        ("[\\]]x", "]x", False, True),
        ("[a/]x", "a/x", False, False),  # a class never matches `/`
        ("\\*.py", "*.py", False, True),  # an escaped `*` is a literal star
        ("\\*.py", "a.py", False, False),
        ("\\?", "?", False, True),
        ("**", "a/b/c", False, True),
        ("a/**/b/**/c", "a/x/b/y/z/c", False, True),
        ("a/**/b", "a/xb", True, False),  # `**/` stops only after a `/`
        ("**/b", "ab", False, False),
        ("x**y", "xay", False, True),  # `**` inside a name is a plain `*`
        ("x**y", "xa/y", False, False),
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


def test_matching_a_long_name_does_not_backtrack() -> None:
    """A backtracking matcher (Python's `re` on `[^/]*a[^/]*a...b`) would not finish here."""
    rules = parse_ignore(["*a*a*a*a*a*a*a*a*a*a*a*b"])
    assert not rules.ignored("a" * 5000, False)
    assert rules.ignored("a" * 5000 + "b", False)
    assert not rules.ignored("/".join(["a" * 40] * 100), False)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[z-a].py", "`[z-a]` has a reversed range `z-a`"),
        ("src/[abc", "`[` is never closed"),
        ("trailing\\", "ends with a lone `\\`"),
        ("!", "`!` needs a pattern after it"),
        ("a\x00b", "contains a NUL byte"),
    ],
)
def test_an_unreadable_pattern_names_its_line(line: str, message: str) -> None:
    with pytest.raises(PatternError) as raised:
        parse_ignore(["*.md", "# fine", line])
    assert message in raised.value.args[0]
    assert raised.value.args[1] == 3


def _as_regex(rule: IgnoreRule) -> re.Pattern[str]:
    """The same steps as a regex: a slow but obviously right oracle for short paths."""
    parts = []
    for step in rule.steps:
        if isinstance(step, str):
            parts.append(re.escape(step))
        elif hasattr(step, "ranges"):
            members = "".join(f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in step.ranges)
            parts.append(f"[^/{members}]" if step.negated else f"(?!/)[{members}]")
        else:
            parts.append({"?": "[^/]", "*": "[^/]*", "**/": "(?:.*/)?", "/**": ".*"}[step.value])
    return re.compile("".join(parts), re.DOTALL)


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.text(alphabet="ab/*?[]!-\\", min_size=1, max_size=10),
    path=st.text(alphabet="ab/", max_size=10),
)
def test_the_matcher_agrees_with_a_regex_of_its_steps(pattern: str, path: str) -> None:
    try:
        rules = parse_ignore([pattern])
    except PatternError:
        return
    for rule in rules.rules:
        expected = _as_regex(rule).fullmatch(path) is not None
        assert rule.matches(path, is_dir=True) is expected, (pattern, path, rule.steps)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.tuples(st.booleans(), st.text(alphabet="ab/*?", min_size=1, max_size=6)),
        min_size=1,
        max_size=6,
    ),
    path=st.text(alphabet="ab/", min_size=1, max_size=8),
    is_dir=st.booleans(),
)
def test_the_last_matching_rule_decides_as_one_rule_at_a_time_would(
    lines: list[tuple[bool, str]], path: str, is_dir: bool
) -> None:
    """Rules are matched in runs (one expression per run of one sign), and repeated lines
    are dropped but the last: the outcome is still the last matching line's."""
    text = [("!" if negate else "") + pattern for negate, pattern in lines]
    try:
        rules = parse_ignore(text)
    except PatternError:
        return
    expected = False
    for line in text:
        for rule in parse_ignore([line]).rules:
            if (is_dir or not rule.dir_only) and _as_regex(rule).fullmatch(path):
                expected = not rule.negate
    assert rules.ignored(path, is_dir) is expected, (text, path, is_dir)


def test_repeated_lines_count_once() -> None:
    rules = parse_ignore(["*a*a*a*a*a*a*a*b"] * 50_000 + ["!keep.b", "*a*a*a*a*a*a*a*b"])
    assert [rule.line for rule in rules.rules] == [50_001, 50_002]
    assert rules.ignored("a" * 7 + "b", False)
    assert not rules.ignored("keep.b", False)
    assert not rules.ignored("a" * 200, False)


def test_the_number_of_patterns_is_bounded() -> None:
    parse_ignore([f"file{n}.txt" for n in range(MAX_IGNORE_PATTERNS)])
    with pytest.raises(PatternError) as raised:
        parse_ignore(["# many", *(f"file{n}.txt" for n in range(MAX_IGNORE_PATTERNS + 1))])
    assert raised.value.args[1] == MAX_IGNORE_PATTERNS + 2
    assert "more than 1,000 different patterns" in raised.value.args[0]


def test_a_pattern_longer_than_any_path_is_refused() -> None:
    with pytest.raises(PatternError, match="a pattern is at most 4,096"):
        parse_ignore(["a" * 4097])


def test_many_distinct_adversarial_patterns_on_a_long_name() -> None:
    """The shape that took 50 s as 50,000 lines (bench/ignore.py times it)."""
    rules = parse_ignore([f"*a*a*a*a*a*a*a*b{n}" for n in range(MAX_IGNORE_PATTERNS)])
    assert not rules.ignored("a" * 200, False)
    assert rules.ignored("a" * 200 + "b7", False)
    assert not rules.ignored("/".join(["a" * 40] * 50) + "b", True)
