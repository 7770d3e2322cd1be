"""`nami plan` cost against a local emulator as the number of pipelines grows.

For N = 10, 50, 200: deploy N pipelines to a fresh moto server, change one, then time
`nami plan` and count its AWS API calls, beside the naive approach of one change set per
stack (what a per-stack deploy action does: create, wait, describe, delete).
nami's change-set calls must not grow with N.
Run: .venv/bin/python bench/plan.py [--sizes 10,50,200]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws, AwsTarget
from nami_action.config import load_config
from nami_action.plan.decide import compact
from nami_action.plan.planner import PlanOptions, make_plan

REGION = "us-east-1"
BUCKET = "bench-artifacts"
POLL = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def change_set_calls(aws: Aws) -> int:
    return sum(n for op, n in aws.calls.items() if "ChangeSet" in op)


def naive_plan(aws: Aws, templates: dict[str, str], stack_names: dict[str, str]) -> None:
    """One change set per stack, changed or not."""
    for name, template in templates.items():
        result = cfn.create_change_set(
            aws,
            stack_names[name],
            f"naive-{name}-{time.time_ns()}",
            {"TemplateBody": compact(template)},
            create=False,
            tags={},
            poll_seconds=POLL,
        )
        if result.change_set_id:
            cfn.delete_change_set(aws, result.change_set_id)


def measure(size: int, endpoint: str) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"nami-bench-{size}-"))
    path = write_config(folder, size, project=f"b{size}")
    text = path.read_text().replace(
        "region: us-east-1\n", f"region: {REGION}\nartifacts: {{bucket: {BUCKET}}}\n"
    )
    path.write_text(text)
    setup = Aws(AwsTarget(region=REGION, endpoint_url=endpoint))
    run = make_plan(
        load_config(path),
        setup,
        PlanOptions(keep_change_sets=True, max_parallel=4, poll_seconds=POLL),
    )
    result = deploy(setup, run, DeployOptions(max_parallel=4, poll_seconds=POLL), lambda e: None)
    failed = len(result.failed)
    path.write_text(text.replace("max_receive_count: 3\n", "max_receive_count: 9\n", 1))

    aws = Aws(AwsTarget(region=REGION, endpoint_url=endpoint))
    started = time.perf_counter()
    plan = make_plan(load_config(path), aws, PlanOptions(max_parallel=4, poll_seconds=POLL)).plan
    seconds = time.perf_counter() - started
    changed = len(plan.changed)

    naive = Aws(AwsTarget(region=REGION, endpoint_url=endpoint))
    config = load_config(path)
    names = {n: p.stack_name for n, p in config.pipelines.items()}
    run_templates = make_plan(
        config,
        Aws(AwsTarget(region=REGION, endpoint_url=endpoint)),
        PlanOptions(max_parallel=4, poll_seconds=POLL),
    ).templates
    started = time.perf_counter()
    naive_plan(naive, run_templates, names)
    naive_seconds = time.perf_counter() - started
    return {
        "n": size,
        "deploy_failed": failed,
        "changed": changed,
        "seconds": seconds,
        "calls": sum(aws.calls.values()),
        "change_set_calls": change_set_calls(aws),
        # The emulator drops the Description (fingerprint) of stacks made by change sets, so
        # nami reads each template once there; on AWS DescribeStacks carries it.
        "get_template": aws.calls["cloudformation:GetTemplate"],
        "naive_seconds": naive_seconds,
        "naive_calls": sum(naive.calls.values()),
        "naive_change_set_calls": change_set_calls(naive),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,200")
    args = parser.parse_args()
    import logging
    import warnings

    from moto.server import ThreadedMotoServer

    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION
    )
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        Aws(AwsTarget(region=REGION, endpoint_url=endpoint)).client("s3").create_bucket(
            Bucket=BUCKET
        )
        print(
            f"{'N':>5} {'changed':>8} {'plan s':>8} {'calls':>6} {'change-set calls':>17}"
            f" {'GetTemplate*':>12} | {'naive s':>8} {'calls':>6} {'change-set calls':>17}"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            row = measure(size, endpoint)
            print(
                f"{row['n']:>5} {row['changed']:>8} {row['seconds']:>8.2f} {row['calls']:>6}"
                f" {row['change_set_calls']:>17} {row['get_template']:>12}"
                f" | {row['naive_seconds']:>8.2f}"
                f" {row['naive_calls']:>6} {row['naive_change_set_calls']:>17}"
                + (
                    f"  ({row['deploy_failed']} setup deploys failed)"
                    if row["deploy_failed"]
                    else ""
                )
            )
        print(
            "* emulator only: moto omits the Description of stacks made by change sets, so nami"
            " reads the fingerprint from GetTemplate; on AWS those calls are 0."
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
