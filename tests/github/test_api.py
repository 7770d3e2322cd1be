"""The GitHub REST client against a local stand-in for the API."""

from __future__ import annotations

import pytest

from nami_action.github.api import GitHubClient, GitHubError, next_link

from .github_fakes import REPO, TOKEN, FakeGitHub

MARKER = "<!-- nami:plan:nami.yaml -->"


def client(fake: FakeGitHub, token: str = TOKEN) -> GitHubClient:
    return GitHubClient(token, REPO, fake.url)


def test_list_follows_pagination(github_api: FakeGitHub) -> None:
    for i in range(5):
        github_api.add_comment(3, f"comment {i}")
    comments = client(github_api).list_comments(3)
    assert [c.body for c in comments] == [f"comment {i}" for i in range(5)]
    assert len([r for r in github_api.requests if r[0] == "GET"]) == 3


def test_sticky_comment_is_created_then_edited_then_left_alone(github_api: FakeGitHub) -> None:
    for i in range(3):  # the marker comment is on the second page
        github_api.add_comment(3, f"chatter {i}")
    gh = client(github_api)
    assert gh.upsert_comment(3, f"{MARKER}\nfirst", MARKER)[0] == "created"
    github_api.add_comment(3, "more chatter")
    outcome, comment_id = gh.upsert_comment(3, f"{MARKER}\nsecond", MARKER)
    assert outcome == "updated"
    assert gh.upsert_comment(3, f"{MARKER}\nsecond", MARKER) == ("unchanged", comment_id)
    bodies = [c["body"] for c in github_api.comments[3]]
    assert bodies.count(f"{MARKER}\nsecond") == 1 and len(bodies) == 5
    assert [m for m, _ in github_api.writes()] == ["POST", "PATCH"]


def test_other_configs_have_their_own_comment(github_api: FakeGitHub) -> None:
    gh = client(github_api)
    gh.upsert_comment(3, f"{MARKER}\na", MARKER)
    other = "<!-- nami:plan:infra/nami.yaml -->"
    assert gh.upsert_comment(3, f"{other}\nb", other)[0] == "created"
    assert len(github_api.comments[3]) == 2


def test_merged_pull_for_commit(github_api: FakeGitHub) -> None:
    github_api.pulls_by_sha["abc"] = [
        {"number": 4, "merged_at": None},
        {"number": 9, "merged_at": "2024-01-01T00:00:00Z"},
    ]
    assert client(github_api).merged_pull_for_commit("abc") == 9
    assert client(github_api).merged_pull_for_commit("def") is None


def test_bad_token_says_so(github_api: FakeGitHub) -> None:
    with pytest.raises(GitHubError, match=r"rejected the token \(401\).*github-token") as info:
        client(github_api, "wrong").list_comments(1)
    assert info.value.status == 401


def test_forbidden_names_the_missing_permission(github_api: FakeGitHub) -> None:
    github_api.deny_writes = True
    with pytest.raises(GitHubError, match=r"403.*permissions: pull-requests: write.*fork"):
        client(github_api).create_comment(1, "x")


def test_not_found_is_explained(github_api: FakeGitHub) -> None:
    gh = GitHubClient(TOKEN, "acme/other", github_api.url)
    with pytest.raises(GitHubError, match=r"not found \(404\).*contents: read"):
        gh.list_comments(1)


def test_unreachable_api(github_api: FakeGitHub) -> None:
    gh = GitHubClient(TOKEN, REPO, "http://127.0.0.1:9")
    with pytest.raises(GitHubError, match="cannot reach the GitHub API"):
        gh.list_comments(1)


def test_no_token() -> None:
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubClient("", REPO)


def test_next_link() -> None:
    header = '<https://api/x?page=2>; rel="next", <https://api/x?page=9>; rel="last"'
    assert next_link(header) == "https://api/x?page=2"
    assert next_link('<https://api/x?page=1>; rel="prev"') is None
    assert next_link("") is None
