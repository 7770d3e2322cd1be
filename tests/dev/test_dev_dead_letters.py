"""`nami dev` keeps what it rejects: dead letters outlive the retention sweep and a restart,
and `nami dlq peek/export/redrive --dev` read and move them."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.dev.app import DevApp
from nami_action.dev.queue import DB_NAME, DeadLetter, Store
from nami_action.envelope import decode_envelope

from .helpers import Project, post, wait_for

PIPELINES = """
hooks:
  verify:
    scheme: github
    secret: ssm:/devtest/github
  consumer:
    code: consumer
    handler: HANDLER
"""
SECRET = "dev-secret"
PURGE_EVERY = 0.05


def forged(body: bytes) -> dict[str, str]:
    digest = hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def dlq(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dlq", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@dataclass
class Running:
    project: Project
    app: DevApp
    stop: threading.Event
    loop: threading.Thread

    def halt(self) -> None:
        """Ctrl-C: run() stops the app."""
        self.stop.set()
        self.loop.join(10)


@pytest.fixture
def running(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> Iterator[Running]:
    """nami dev with the retention sweep every 50 ms (run() as the CLI runs it)."""
    project = make_project(PIPELINES)
    app = start_app(project, secrets={"hooks": SECRET}, purge_every=PURGE_EVERY)
    stop = threading.Event()
    loop = threading.Thread(target=app.run, args=(stop,))
    loop.start()
    run = Running(project, app, stop, loop)
    yield run
    run.halt()


def test_rejected_webhook_outlives_the_retention_sweep_and_a_restart(
    running: Running, start_app: Callable[..., DevApp]
) -> None:
    project, app = running.project, running.app
    body = json.dumps({"n": 1}).encode()
    assert post(app.url, "/hooks", body, forged(body))[0] == 202
    wait_for(lambda: app.store.depth("hooks", time.time()).dead == 1, what="the dead letter")
    swept = app.purges
    # Twenty sweep intervals, and at least five sweeps that ran while it was stored.
    time.sleep(20 * PURGE_EVERY)
    wait_for(lambda: app.purges >= swept + 5, what="five retention sweeps")
    (letter,) = app.store.dead_letters_sent("hooks")
    dead, sent_at = letter
    assert (dead.outcome, dead.reason, dead.receive_count) == ("rejected", "signature mismatch", 1)
    assert abs(sent_at - time.time()) < 30  # when it was stored, not a receive count
    assert decode_envelope(dead.body).body == body
    assert project.numbers() == []

    running.halt()  # a restart sweeps once more at start
    again = start_app(project, secrets={"hooks": SECRET})
    assert again.purges == 1 and len(again.store.dead_letters("hooks")) == 1


def test_dlq_commands_read_and_redrive_nami_devs_dead_letters(
    running: Running, tmp_path: Path
) -> None:
    project, app = running.project, running.app
    bodies = [json.dumps({"n": n}).encode() for n in (1, 2)]
    for body in bodies:
        assert post(app.url, "/hooks", body, forged(body))[0] == 202
    wait_for(lambda: len(app.store.dead_letters("hooks")) == 2, what="two dead letters")
    where = ("--dev", "--data", str(project.data), "--config", str(project.config))

    code, output = dlq("peek", "hooks", *where)
    assert code == 0, output
    assert output.count("rejected by the consumer: signature mismatch") == 2
    assert '{"n": 1}' in output and "this peek included" not in output
    code, output = dlq("peek", "hooks", "-n", "1", "--format", "json", *where)
    assert code == 0 and [r["outcome"] for r in json.loads(output)] == ["rejected"]

    out = tmp_path / "dead.jsonl"
    code, output = dlq("export", "hooks", "--out", str(out), *where)
    assert code == 0 and "exported 2 dead letter(s)" in output, output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["reason"] for line in lines] == ["signature mismatch"] * 2
    assert [line["envelope"]["path"] for line in lines] == ["/hooks"] * 2

    # Redrive while nami dev runs: both go back to the queue (the consumer rejects them
    # again: still forged), once each, and are dead letters again: two, not four.
    code, output = dlq("redrive", "hooks", *where)
    assert code == 0 and "moved 2 message(s)" in output, output
    wait_for(
        lambda: app.counters["hooks"].snapshot().rejected == 4, what="both rejected a second time"
    )
    wait_for(lambda: len(app.store.dead_letters("hooks")) == 2, what="the two back")
    assert app.store.depth("hooks", time.time()).visible == 0


def test_dlq_dev_without_a_queue_or_with_nothing_in_it_is_one_clear_error(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    where = ("--dev", "--data", str(project.data), "--config", str(project.config))
    code, output = dlq("peek", "hooks", *where)
    assert code != 0 and "no nami dev queue in" in output
    start_app(project)
    code, output = dlq("redrive", "hooks", *where)
    assert code != 0 and "dead letters of `hooks` are empty" in output
    code, output = dlq("peek", "hoks", *where)
    assert code != 0 and "did you mean `hooks`" in output


def test_rows_an_older_nami_dev_stored_with_swapped_columns_are_put_right(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path)
    store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # as the faulty insert wrote it
        conn.execute(
            "INSERT INTO dead_letters (pipeline, message_id, body, sent_at, receive_count,"
            " dead_at, outcome, reason) VALUES ('p', 'm', 'b', 1, 1796549959.5, 1796549960,"
            " 'rejected', 'why')"
        )
    store = Store.open(tmp_path)
    try:
        assert store.dead_letters_sent("p") == [
            (DeadLetter("m", "b", 1, "rejected", "why"), 1796549959.5)
        ]
        assert store.purge_expired("p", 60, 14 * 86400, now=1796549970) == 0
    finally:
        store.close()
