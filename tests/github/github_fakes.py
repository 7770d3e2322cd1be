"""Test doubles for the Action tests: a fake GitHub REST API on 127.0.0.1, plan builders."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from nami_action.plan.model import PipelinePlan, Plan, PlanWarning, ResourceChange

TOKEN = "test-token"
REPO = "acme/webhooks"


@dataclass
class FakeGitHub:
    """In-memory issue comments and commit -> pull request links, as the REST API serves them."""

    url: str = ""
    page_size: int = 2  # small, so pagination is exercised
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls_by_sha: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    deny_writes: bool = False
    # The account the token writes as. None: an installation token (the job's GITHUB_TOKEN),
    # for which GET /user answers 403 and comments are written by github-actions[bot].
    user: str | None = None
    viewer: str | None = None  # GraphQL's viewer login (an app's bot); None: not answered
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head sha
    compare: dict[str, list[str]] = field(default_factory=dict)  # "base...head" -> shas
    successful_runs: dict[str, str] = field(default_factory=dict)  # workflow file -> head sha
    labels: dict[int, list[str]] = field(default_factory=dict)
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next answers
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> issue (drift)
    pull_files: dict[int, list[str]] = field(default_factory=dict)  # number -> changed paths
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def author(self) -> str:
        return self.user or self.viewer or "github-actions[bot]"

    def writes(self) -> list[tuple[str, str]]:
        writing = ("POST", "PATCH", "DELETE")
        return [(m, p) for m, p in self.requests if m in writing and p != "/graphql"]

    def comment_writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.writes() if "/comments" in p]

    def add_comment(self, issue: int, body: str, login: str = "someone") -> int:
        with self.lock:
            self.next_id += 1
            self.comments.setdefault(issue, []).append(
                {"id": self.next_id, "body": body, "user": {"login": login}}
            )
            return self.next_id


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (the fakes of GitHub's API)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{REPO}"

    class Handler(JsonHandler):
        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length) or b"{}")
            return data if isinstance(data, dict) else {}

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            with fake.lock:
                fake.requests.append((method, parts.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials"})
                return
            with fake.lock:
                failure = fake.failures.pop(0) if fake.failures else None
            if failure:
                self._send(
                    failure[0], {"message": "You have exceeded a secondary rate limit"}, failure[1]
                )
                return
            if parts.path == "/user" and method == "GET":
                if fake.user is None:
                    self._send(403, {"message": "Resource not accessible by integration"})
                else:
                    self._send(200, {"login": fake.user})
                return
            if parts.path == "/graphql" and method == "POST":
                if fake.viewer is None:
                    self._send(403, {"message": "Resource not accessible by integration"})
                else:
                    self._send(200, {"data": {"viewer": {"login": fake.viewer}}})
                return
            if not parts.path.startswith(prefix):
                self._send(404, {"message": "Not Found"})
                return
            path = parts.path[len(prefix) :]
            query = parse_qs(parts.query)
            if method in ("POST", "PATCH") and fake.deny_writes:
                self._send(403, {"message": "Resource not accessible by integration"})
                return
            if m := re.fullmatch(r"/issues/(\d+)/comments", path):
                issue = int(m.group(1))
                if method == "GET":
                    self._list(issue, query)
                    return
                if method == "POST":
                    new_id = fake.add_comment(issue, self._body()["body"], fake.author)
                    self._send(201, {"id": new_id, "body": fake.comments[issue][-1]["body"]})
                    return
            if (m := re.fullmatch(r"/issues/comments/(\d+)", path)) and method == "PATCH":
                comment_id = int(m.group(1))
                body = self._body()["body"]
                with fake.lock:
                    for items in fake.comments.values():
                        for item in items:
                            if item["id"] == comment_id:
                                item["body"] = body
                                self._send(200, item)
                                return
                self._send(404, {"message": "Not Found"})
                return
            if (m := re.fullmatch(r"/pulls/(\d+)/files", path)) and method == "GET":
                files = fake.pull_files.get(int(m.group(1)), [])
                self._send(200, [{"filename": name, "status": "modified"} for name in files])
                return
            if (m := re.fullmatch(r"/commits/([0-9a-f]+)/pulls", path)) and method == "GET":
                self._send(200, fake.pulls_by_sha.get(m.group(1), []))
                return
            if (m := re.fullmatch(r"/branches/([^/]+)", path)) and method == "GET":
                if m.group(1) in fake.branches:
                    self._send(
                        200, {"name": m.group(1), "commit": {"sha": fake.branches[m.group(1)]}}
                    )
                else:
                    self._send(404, {"message": "Branch not found"})
                return
            if (
                m := re.fullmatch(r"/compare/([0-9a-f]+\.\.\.[0-9a-f]+)", path)
            ) and method == "GET":
                shas = fake.compare.get(m.group(1), [])
                self._send(200, {"commits": [{"sha": sha} for sha in shas]})
                return
            if (m := re.fullmatch(r"/actions/workflows/([^/]+)/runs", path)) and method == "GET":
                assert query.get("status") == ["success"] and query.get("event") == ["push"]
                sha = fake.successful_runs.get(m.group(1))
                self._send(200, {"workflow_runs": [{"head_sha": sha}] if sha else []})
                return
            if (m := re.fullmatch(r"/issues/(\d+)/labels", path)) and method == "POST":
                with fake.lock:
                    have = fake.labels.setdefault(int(m.group(1)), [])
                    have += [label for label in self._body()["labels"] if label not in have]
                self._send(200, [{"name": label} for label in have])
                return
            if (m := re.fullmatch(r"/issues/(\d+)/labels/([^/]+)", path)) and method == "DELETE":
                have = fake.labels.get(int(m.group(1)), [])
                name = unquote(m.group(2))
                if name not in have:
                    self._send(404, {"message": "Label does not exist"})
                    return
                have.remove(name)
                self._send(200, [{"name": label} for label in have])
                return
            if self._issue_route(method, path, query):
                return
            self._send(404, {"message": "Not Found"})

        def _issue_route(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
            """Issues as the REST API serves them: list by state and label, create, edit."""
            if path == "/issues" and method == "GET":
                wanted = query.get("labels", [""])[0]
                state = query.get("state", ["open"])[0]
                self._send(
                    200,
                    [
                        i
                        for i in fake.issues.values()
                        if i["state"] == state and wanted in i["labels_names"]
                    ],
                )
                return True
            if path == "/issues" and method == "POST":
                data = self._body()
                with fake.lock:
                    fake.next_id += 1
                    number = fake.next_id
                    fake.issues[number] = {
                        "number": number,
                        "title": data["title"],
                        "body": data["body"],
                        "state": "open",
                        "labels_names": data.get("labels", []),
                        "user": {"login": fake.author},
                    }
                self._send(201, fake.issues[number])
                return True
            if (m := re.fullmatch(r"/issues/(\d+)", path)) and method == "PATCH":
                issue = fake.issues.get(int(m.group(1)))
                if issue is None:
                    self._send(404, {"message": "Not Found"})
                    return True
                issue.update(self._body())
                self._send(200, issue)
                return True
            return False

        def _list(self, issue: int, query: dict[str, list[str]]) -> None:
            page = int(query.get("page", ["1"])[0])
            items = fake.comments.get(issue, [])
            size = fake.page_size
            chunk = items[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(items):
                nxt = f"{fake.url}{prefix}/issues/{issue}/comments?per_page={size}&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
            self._send(200, chunk, headers)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


# --------------------------------------------------------------------------- plans


def big_diff(name: str, lines: int) -> str:
    out = [f"--- {name} (deployed)", f"+++ {name} (nami.yaml)"]
    for i in range(lines):
        out.append(f'-      "VisibilityTimeout": {i},  # {name} line {i} ' + "x" * 40)
        out.append(f'+      "VisibilityTimeout": {i + 1},  # {name} line {i} ' + "y" * 40)
    return "\n".join(out)


def changed_pipeline(name: str, *, diff_lines: int = 400, changes: int = 6) -> PipelinePlan:
    rows = [
        ResourceChange("Modify", f"Resource{i}", "AWS::SQS::Queue", "True" if i == 0 else "False")
        for i in range(changes)
    ]
    warnings = [
        PlanWarning(
            name, "queue-replaced", f"queue of {name} is replaced: messages waiting are lost", True
        ),
        PlanWarning(name, "stack-busy", f"stack acme-{name} was busy a moment ago"),
    ]
    return PipelinePlan(
        pipeline=name,
        stack_name=f"acme-{name}",
        action="update",
        reason="template changed",
        changes=rows,
        diff=big_diff(name, diff_lines),
        warnings=warnings,
        line=10,
    )


def make_plan(pipelines: list[PipelinePlan]) -> Plan:
    return Plan(project="acme", config_file="nami.yaml", region="us-east-1", pipelines=pipelines)
