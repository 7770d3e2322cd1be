"""Release check against a real AWS account: deploy examples/nami.yaml, send adversarial
signed webhooks, check what the sender got and what the handler saw, destroy everything.

    python -m tests.smoke.aws_smoke [--region eu-west-1] [--timeout 600] [--keep]

Needs credentials that may deploy (see docs/aws-smoke.md). Exit 0: every check passed;
1: a check failed (each problem printed); 2: it could not run (no credentials, deploy failed).
The pure parts (corpus.py, checks.py) are unit-tested by tests/smoke/test_*.py.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

from nami_action.aws.session import Aws, AwsTarget, credentials_available
from nami_action.aws.stacks import stack_resources
from nami_action.compile import iam, names
from nami_action.compile.consumer import LOG_GROUP
from nami_action.compile.ingress_http import ROLE as HTTP_API_ROLE
from nami_action.config import Config, PipelineConfig, load_config
from nami_action.runtime.verify import VerifySettings

from .checks import (
    Answer,
    DeadLetter,
    DeniedSend,
    Seen,
    check,
    check_denied,
    denied_report,
    denied_shows,
    parse_dead_letters,
    parse_seen,
    waiting_for,
)
from .corpus import PROBE_MODULE, Probe, Target, build_corpus, denied_probe, smoke_config
from .smoke_probe import MARKER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PROBE_SOURCE = Path(__file__).with_name("smoke_probe.py")
SETTLE_SECONDS = 30  # after the last expected probe, time for a wrongly handled one to show
# IAM is eventually consistent: a changed policy "can take some time to become effective"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
# so the access-denied step probes until the deny shows (and until its removal does), bounded.
DENY_BOUND_SECONDS = 300
DENY_POLL_SECONDS = 5
DENY_POLICY = "nami-smoke-deny-send"
DENY_DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SmokeDeniesTheSend",
                "Effect": "Deny",
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        ],
    }
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def nami(*args: str) -> subprocess.CompletedProcess[str]:
    log("$ nami " + " ".join(args))
    return subprocess.run(
        [sys.executable, "-m", "nami_action", *args], text=True, capture_output=True, check=False
    )


# --------------------------------------------------------------------------- set-up


def prepare(folder: Path, project: str) -> tuple[Path, dict[str, str]]:
    """The example copied to `folder`, rewritten for this run, with the probe handler in each
    consumer folder. Returns the config path and the secrets to create."""
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns(".nami", "__pycache__"))
    config = folder / "nami.yaml"
    # Read before the rewrite: validate checks that each handler is defined, and the probe
    # handler the rewrite names is only copied in below.
    folders = {p.spec.consumer.code for p in load_config(config).pipelines.values()}
    text, wanted = smoke_config(config.read_text(), project, lambda _: secrets.token_hex(32))
    config.write_text(text)
    for code in sorted(folders):
        shutil.copy(PROBE_SOURCE, folder / code / f"{PROBE_MODULE}.py")
    return config, wanted


@contextmanager
def stored_secrets(aws: Aws, wanted: dict[str, str]) -> Iterator[None]:
    made: list[str] = []
    try:
        for reference, value in wanted.items():
            kind, _, where = reference.partition(":")
            if kind == "ssm":
                aws.client("ssm").put_parameter(Name=where, Value=value, Type="SecureString")
            else:
                aws.client("secretsmanager").create_secret(Name=where, SecretString=value)
            made.append(reference)
        yield
    finally:
        for reference in made:
            kind, _, where = reference.partition(":")
            try:
                if kind == "ssm":
                    aws.client("ssm").delete_parameter(Name=where)
                else:
                    aws.client("secretsmanager").delete_secret(
                        SecretId=where, ForceDeleteWithoutRecovery=True
                    )
            except botocore.exceptions.ClientError as exc:
                log(f"could not delete {reference}: {exc}")


def boundary_document(template: str, account: str, project: str) -> str:
    """docs/iam's permissions boundary for this run: its account, its project, and the
    secrets `smoke_config` moved under `/<project>/` (SSM) and `<project>/` (Secrets Manager)."""
    return (
        template.replace("123456789012", account)
        .replace("acme-webhooks", project)
        .replace(":parameter/acme/", f":parameter/{project}/")
        .replace(":secret:acme/", f":secret:{project}/")
    )


@contextmanager
def boundary_policy(aws: Aws, config: Config, keep: bool) -> Iterator[None]:
    """The boundary every role of the run's stacks names (docs/github-action.md, "The IAM
    roles"); deleted once the stacks are (roles still using it would make the delete fail)."""
    account = aws.account_id()
    name = iam.boundary_name(config)
    document = boundary_document(
        (ROOT / "docs" / "iam" / "permissions-boundary-policy.json").read_text(),
        account,
        config.project,
    )
    arn = aws.client("iam").create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
    try:
        yield
    finally:
        if not keep:
            try:
                aws.client("iam").delete_policy(PolicyArn=arn)
            except botocore.exceptions.ClientError as exc:
                log(f"could not delete the boundary policy {name}: {exc}")


def targets(config: Config, wanted: dict[str, str]) -> list[Target]:
    found = []
    for name, pipeline in config.pipelines.items():
        verify = pipeline.spec.verify
        secret = getattr(verify, "secret", None)
        settings = VerifySettings(
            scheme=verify.scheme,
            secret=wanted.get(secret) if isinstance(secret, str) else None,
            header=getattr(verify, "header", None),
            encoding=getattr(verify, "encoding", "hex"),
            prefix=getattr(verify, "prefix", ""),
        )
        found.append(
            Target(name, settings, fifo=pipeline.spec.queue.fifo, ingress=pipeline.spec.ingress)
        )
    return found


# --------------------------------------------------------------------------- the run


Sender = Callable[[str, Probe], Answer]


def send(url: str, probe: Probe) -> Answer:
    """POST with exactly the probe's headers: http.client adds no Content-Type of its own.
    A connection that fails is answer 0, which the checks report like any wrong status."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(parts.netloc, timeout=60)
    try:
        connection.request("POST", parts.path, body=probe.body, headers=probe.headers)
        response = connection.getresponse()
        return Answer(probe.name, response.status, response.read())
    except (OSError, http.client.HTTPException) as exc:
        return Answer(probe.name, 0, str(exc).encode())
    finally:
        connection.close()


def handler_logs(aws: Aws, config: Config, since_ms: int) -> list[Seen]:
    found: list[Seen] = []
    logs = aws.client("logs")
    for pipeline in config.pipelines.values():
        group = (stack_resources(aws, pipeline.stack_name) or {}).get(LOG_GROUP)
        if not group:
            continue
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, startTime=since_ms, filterPattern=f'"{MARKER}"'
        )
        found += parse_seen(e["message"] for page in pages for e in page["events"])
    return found


def wait_for_handlers(
    aws: Aws, config: Config, corpus: list[Probe], since_ms: int, timeout: float, settle: float
) -> list[Seen]:
    deadline = time.monotonic() + timeout
    seen = handler_logs(aws, config, since_ms)
    while waiting_for(corpus, seen) and time.monotonic() < deadline:
        log(f"waiting for the handler to see {len(waiting_for(corpus, seen))} webhooks")
        time.sleep(10)
        seen = handler_logs(aws, config, since_ms)
    time.sleep(settle)
    return handler_logs(aws, config, since_ms)


def dead_letters(aws: Aws, config: Config) -> list[DeadLetter]:
    """Everything in the pipelines' DLQs, read without deleting (hidden 5 minutes each)."""
    sqs = aws.client("sqs")
    messages: list[dict[str, object]] = []
    for pipeline in config.pipelines.values():
        url = (stack_resources(aws, pipeline.stack_name) or {}).get(names.DEAD_LETTER_QUEUE)
        while url:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                WaitTimeSeconds=2,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            messages += batch
    return parse_dead_letters(messages)


def delete_kept_queues(aws: Aws, config: Config) -> None:
    """Queues outlive their stack on purpose (RetainExceptOnCreate); the run made them, so it
    deletes them."""
    sqs = aws.client("sqs")
    for pipeline in config.pipelines.values():
        for queue in names.queue_names(pipeline):  # route queues too
            try:
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
            except botocore.exceptions.ClientError as exc:
                log(f"queue {queue}: {exc}")


# --------------------------------------------------------------------------- access denied


def http_api_role(aws: Aws, pipeline: PipelineConfig) -> str | None:
    """The name of the role an `ingress: http` pipeline's API sends to SQS with."""
    return (stack_resources(aws, pipeline.stack_name) or {}).get(HTTP_API_ROLE)


def _until(
    wanted: Callable[[Answer], bool],
    send_one: Callable[[], Answer],
    bound: float,
    poll: float,
) -> tuple[Answer | None, float]:
    """Send probes until one's answer is `wanted` (then it and the seconds it took), or until
    `bound` seconds have passed (then None)."""
    start = time.monotonic()
    while True:
        answer = send_one()
        waited = time.monotonic() - start
        if wanted(answer):
            return answer, waited
        if waited >= bound:
            return None, waited
        time.sleep(poll)


def _refused(answer: Answer) -> bool:
    return answer.status >= 300  # 0 is a connection that failed: not SQS's refusal


def _accepted(answer: Answer) -> bool:
    return 200 <= answer.status < 300


def measure_denied_send(
    aws: Aws,
    name: str,
    role: str | None,
    url: str | None,
    probe: Callable[[int], Probe],
    sender: Sender,
    *,
    bound: float = DENY_BOUND_SECONDS,
    poll: float = DENY_POLL_SECONDS,
) -> DeniedSend:
    """What the sender of an `ingress: http` pipeline gets while SQS refuses its API's role:
    an explicit Deny of sqs:SendMessage as an inline policy of the role, probes until one is
    refused, the policy removed again (always), probes until one is accepted again."""
    if not url:
        return DeniedSend(name, error="deploy gave no endpoint for this pipeline")
    if not role:
        return DeniedSend(name, error=f"its stack has no {HTTP_API_ROLE}")
    attempts = iter(range(1, 1_000_000))

    def send_one() -> Answer:
        return sender(url, probe(next(attempts)))

    iam_client = aws.client("iam")
    # The put inside the try: a timeout after IAM stored the policy must still remove it.
    try:
        try:
            iam_client.put_role_policy(
                RoleName=role, PolicyName=DENY_POLICY, PolicyDocument=DENY_DOCUMENT
            )
        except botocore.exceptions.ClientError as exc:
            return DeniedSend(name, role, error=f"could not deny sqs:SendMessage to {role}: {exc}")
        log(f"{name}: sqs:SendMessage denied to {role}; probing until a probe is refused")
        refused, refused_after = _until(_refused, send_one, bound, poll)
    finally:
        _remove_deny(iam_client, role)
    log(f"{name}: the deny removed; probing until a probe is accepted")
    recovered, recovered_after = _until(_accepted, send_one, bound, poll)
    return DeniedSend(name, role, refused, refused_after, recovered, recovered_after, bound=bound)


def _remove_deny(iam_client: Any, role: str) -> None:
    """Remove the step's Deny (absent already is fine); say so loudly when it cannot be."""
    try:
        iam_client.delete_role_policy(RoleName=role, PolicyName=DENY_POLICY)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return
        log(f"could not remove {DENY_POLICY} from {role}: {exc}; remove it by hand")
        raise
    except botocore.exceptions.BotoCoreError as exc:
        log(f"could not remove {DENY_POLICY} from {role}: {exc}; remove it by hand")
        raise


def _denied_probe(target: Target, run: str, attempt: int) -> Probe:
    return denied_probe(target, run, attempt, time.time())  # signed when sent


def denied_sends(
    aws: Aws,
    config: Config,
    endpoints: dict[str, str],
    wanted: dict[str, str],
    sender: Sender,
    options: Options,
) -> list[DeniedSend]:
    """The access-denied step for each `ingress: http` pipeline."""
    found = []
    for target in targets(config, wanted):
        if target.ingress != "http":
            continue
        pipeline = config.pipelines[target.pipeline]
        found.append(
            measure_denied_send(
                aws,
                target.pipeline,
                http_api_role(aws, pipeline),
                endpoints.get(target.pipeline),
                functools.partial(_denied_probe, target, config.project),
                sender,
                bound=options.deny_bound,
                poll=options.deny_poll,
            )
        )
    return found


@dataclass(frozen=True)
class Options:
    region: str = "eu-west-1"
    timeout: float = 600  # seconds to wait for the handlers
    settle: float = SETTLE_SECONDS
    keep: bool = False  # leave the stacks deployed
    deny_bound: float = DENY_BOUND_SECONDS  # per wait of the access-denied step
    deny_poll: float = DENY_POLL_SECONDS


def run(options: Options, sender: Sender = send) -> int:
    project = f"nami-smoke-{secrets.token_hex(3)}"
    region = options.region
    aws = Aws(AwsTarget(region=region))
    with tempfile.TemporaryDirectory() as tmp:
        config_path, wanted = prepare(Path(tmp) / "project", project)
        config = load_config(config_path)
        with stored_secrets(aws, wanted), boundary_policy(aws, config, options.keep):
            try:
                return deploy_send_check(aws, config, config_path, wanted, options, sender)
            finally:
                if not options.keep:
                    destroyed = nami(
                        "destroy",
                        "--all",
                        "--force",
                        "--config",
                        str(config_path),
                        "--region",
                        region,
                    )
                    log(destroyed.stdout + destroyed.stderr)
                    delete_kept_queues(aws, config)


def deploy_send_check(
    aws: Aws,
    config: Config,
    config_path: Path,
    wanted: dict[str, str],
    options: Options,
    sender: Sender,
) -> int:
    for step in (("bootstrap", str(config_path)), ("deploy", str(config_path), "--format", "json")):
        done = nami(*step, "--region", options.region)
        if done.returncode != 0:
            log(done.stdout + done.stderr)
            return 2
    endpoints: dict[str, str] = json.loads(done.stdout)["endpoints"]
    corpus = build_corpus(targets(config, wanted), config.project, time.time())
    since_ms = int(time.time() * 1000) - 60_000
    answers = {
        probe.name: sender(endpoints[probe.pipeline], probe)
        if probe.pipeline in endpoints
        else Answer(probe.name, 0, b"deploy gave no endpoint for this pipeline")
        for probe in corpus
    }
    seen = wait_for_handlers(aws, config, corpus, since_ms, options.timeout, options.settle)
    # An HTTP API passes SQS's error text on (its response mapping cannot replace a body):
    # a refusal must still not show the account or the queue.
    hidden = {"the account id": aws.account_id()}
    hidden |= {f"the queue {p.stack_name}": p.stack_name for p in config.pipelines.values()}
    problems = check(corpus, answers, seen, dead_letters(aws, config), hidden)
    for probe in corpus:
        answer = answers[probe.name]
        log(f"{probe.name}: sent {len(probe.body)} bytes, got {answer.status}")
    for problem in problems:
        print(f"FAIL {problem}")
    # The open question of `ingress: http`: does SQS's access-denied text reach the sender?
    for denied in denied_sends(aws, config, endpoints, wanted, sender, options):
        found = check_denied(denied)
        print(denied_report(denied, found, denied_shows(denied, hidden)))
        problems += found
    print(f"{len(corpus)} webhooks, {len(problems)} problems")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for handlers")
    parser.add_argument("--keep", action="store_true", help="leave the stacks deployed")
    args = parser.parse_args(argv)
    if not credentials_available():
        log("no AWS credentials: the smoke check needs a real account (docs/aws-smoke.md)")
        return 2
    return run(Options(region=args.region, timeout=args.timeout, keep=args.keep))


if __name__ == "__main__":
    sys.exit(main())
