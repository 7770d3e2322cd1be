"""GitHub org events -> CI builds.

Pipeline `github` in examples/nami.yaml: the runtime has already checked X-Hub-Signature-256
and dropped redeliveries seen in the last day (dedupe on X-GitHub-Delivery). This function
only decides what to build and asks the CI system to build it.

Environment: CI_TRIGGER_URL (the CI system's build API), CI_API_TOKEN (optional bearer token).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nami_runtime import Webhook

BUILD_ACTIONS = {"opened", "synchronize", "reopened"}


def handle(webhook: Webhook) -> None:
    event = webhook.headers.get("X-GitHub-Event", "")
    payload = webhook.json()
    build = build_request(event, payload)
    if build is None:
        print(json.dumps({"skipped": event, "delivery": webhook.headers.get("X-GitHub-Delivery")}))
        return
    # The delivery id is the idempotency key: the runtime's dedupe stops redeliveries, but if
    # this call succeeds and the Lambda dies before the dedupe marker is confirmed, the SQS
    # retry would trigger a second build. The CI API drops a repeated key instead.
    key = webhook.headers.get("X-GitHub-Delivery") or webhook.id
    trigger_build(build, idempotency_key=key)


def build_request(event: str, payload: dict[str, Any]) -> dict[str, str] | None:
    """What to build for this event, or None for events we ignore (ping, issues, ...)."""
    repo = payload.get("repository", {})
    if event == "push" and not payload.get("deleted"):
        # Only the default branch: feature branches are built through their pull request.
        if payload.get("ref") != f"refs/heads/{repo.get('default_branch', 'main')}":
            return None
        return {"repository": repo["full_name"], "sha": payload["after"], "reason": "push"}
    if event == "pull_request" and payload.get("action") in BUILD_ACTIONS:
        head = payload["pull_request"]["head"]
        number = payload["pull_request"]["number"]
        return {"repository": repo["full_name"], "sha": head["sha"], "reason": f"pr-{number}"}
    return None


def trigger_build(build: dict[str, str], idempotency_key: str) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    token = os.environ.get("CI_API_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        os.environ["CI_TRIGGER_URL"], data=json.dumps(build).encode(), headers=headers
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code != 409:  # 409: this key was already accepted, the build exists
            raise
