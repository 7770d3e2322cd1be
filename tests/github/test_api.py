"""The GitHub REST client against a local stand-in for the API."""

from __future__ import annotations

import pytest

from nami_action.github.api import ATTEMPTS, GitHubClient, GitHubError, next_link, retry_wait

from .github_fakes import REPO, TOKEN, FakeGitHub

MARKER = "<!-- nami:plan:nami.yaml -->"


def client(fake: FakeGitHub, token: str = TOKEN, waits: list[float] | None = None) -> GitHubClient:
    gh = GitHubClient(token, REPO, fake.url)
    gh.sleep = (waits if waits is not None else []).append  # type: ignore[method-assign]
    return gh


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


def test_an_open_pull_request_never_gets_the_deploy_comment(github_api: FakeGitHub) -> None:
    github_api.pulls_by_sha["abc"] = [{"number": 4, "merged_at": None}]
    assert client(github_api).merged_pull_for_commit("abc") is None


def test_another_users_comment_with_the_marker_is_never_edited(github_api: FakeGitHub) -> None:
    github_api.add_comment(3, f"{MARKER}\nquoted by a reviewer", login="mallory")
    gh = client(github_api)
    assert gh.upsert_comment(3, f"{MARKER}\nplan", MARKER)[0] == "created"
    assert gh.upsert_comment(3, f"{MARKER}\nplan 2", MARKER)[0] == "updated"
    bodies = {c["user"]["login"]: c["body"] for c in github_api.comments[3]}
    assert bodies == {
        "mallory": f"{MARKER}\nquoted by a reviewer",
        "github-actions[bot]": f"{MARKER}\nplan 2",
    }


def test_a_personal_token_finds_its_own_comment_by_login(github_api: FakeGitHub) -> None:
    github_api.user = "nami-bot"
    github_api.add_comment(3, f"{MARKER}\nby the actions bot", login="github-actions[bot]")
    gh = client(github_api)
    assert gh.own_login() == "nami-bot"
    assert gh.upsert_comment(3, f"{MARKER}\nmine", MARKER)[0] == "created"
    assert gh.upsert_comment(3, f"{MARKER}\nmine 2", MARKER)[0] == "updated"
    assert github_api.comments[3][0]["body"].endswith("by the actions bot")
    assert [r for r in github_api.requests if r[1] == "/user"] == [("GET", "/user")]  # once


def test_an_app_token_finds_its_own_comment_by_its_graphql_login(github_api: FakeGitHub) -> None:
    github_api.viewer = "nami-app[bot]"
    github_api.add_comment(3, f"{MARKER}\nby the actions bot", login="github-actions[bot]")
    gh = client(github_api)
    assert gh.own_login() == "nami-app[bot]"
    assert gh.upsert_comment(3, f"{MARKER}\nmine", MARKER)[0] == "created"
    assert gh.upsert_comment(3, f"{MARKER}\nmine 2", MARKER)[0] == "updated"
    assert github_api.comments[3][0]["body"].endswith("by the actions bot")


def test_server_errors_and_secondary_rate_limits_are_retried(github_api: FakeGitHub) -> None:
    github_api.add_comment(3, "hello")
    github_api.failures = [(502, {}), (403, {"Retry-After": "7"}), (429, {})]
    waits: list[float] = []
    assert [c.body for c in client(github_api, waits=waits).list_comments(3)] == ["hello"]
    assert waits == [2.0, 7.0, 8.0]


def test_retries_give_up_with_the_last_error(github_api: FakeGitHub) -> None:
    github_api.failures = [(503, {})] * ATTEMPTS
    waits: list[float] = []
    with pytest.raises(GitHubError, match="GitHub API error 503"):
        client(github_api, waits=waits).list_comments(3)
    assert len(waits) == ATTEMPTS - 1


def test_retry_wait() -> None:
    assert retry_wait(404, {}, "") is None
    assert retry_wait(403, {}, "Resource not accessible by integration") is None
    assert retry_wait(500, {}, "") == 0.0
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"}
    assert retry_wait(403, reset, "", now=1000.0) == 31.0
    assert retry_wait(403, {"retry-after": "120"}, "") == 120.0  # longer than we wait: fails


def test_branch_head_compare_runs_and_labels(github_api: FakeGitHub) -> None:
    gh = client(github_api)
    github_api.branches["main"] = "b" * 40
    github_api.compare[f"{'a' * 40}...{'b' * 40}"] = ["1" * 40, "b" * 40]
    github_api.successful_runs["nami.yml"] = "a" * 40
    assert gh.branch_head("main") == "b" * 40
    assert gh.commits_between("a" * 40, "b" * 40) == ["1" * 40, "b" * 40]
    assert gh.last_successful_run_sha("nami.yml", "main") == "a" * 40
    assert gh.last_successful_run_sha("other.yml", "main") is None
    gh.add_labels(3, ["nami:changes"])
    gh.remove_label(3, "nami:changes")
    gh.remove_label(3, "nami:destroy")  # not there: fine
    assert github_api.labels[3] == []


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
