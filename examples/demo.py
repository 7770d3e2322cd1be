"""`make demo`: the main job end to end on examples/nami.yaml against a local AWS emulator.

Starts moto's server on 127.0.0.1, runs `nami bootstrap`, `nami plan` and `nami deploy`,
changes one pipeline and shows the plan of that change, deploys it, prints the endpoints and
the status table, and stops the server. Works on a copy of examples/ so the repository stays
clean.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nami(*args: str, check: bool = True) -> int:
    print(f"\n$ nami {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "nami_action", *args], check=False).returncode
    if check and code not in (0, 2):
        raise SystemExit(f"demo: `nami {args[0]}` failed with exit code {code}")
    return code


def version_the_bootstrap_bucket() -> None:
    """moto 5.2 ignores the VersioningConfiguration of a bucket made by CloudFormation
    (measured: tests/package/test_artifacts_emulator.py); on AWS the bootstrap template turns
    versioning on, and deploys pin the functions' code to the S3 version they checked. The
    emulator's bucket gets here what AWS gives it, so the demo deploys as it would on AWS."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["NAMI_ENDPOINT_URL"], region_name=REGION)
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"].startswith("nami-bootstrap-artifactbucket"):
            s3.put_bucket_versioning(
                Bucket=bucket["Name"], VersioningConfiguration={"Status": "Enabled"}
            )


def main() -> None:
    from moto.server import ThreadedMotoServer

    for noisy in ("werkzeug", "moto"):  # the emulator's request log and its skipped types
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # Fake credentials for the emulator only; nothing here can reach real AWS.
    os.environ.update(
        NAMI_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION=REGION,
    )
    work = Path(tempfile.mkdtemp(prefix="nami-demo-"))
    try:
        shutil.copytree(EXAMPLES, work / "examples", ignore=shutil.ignore_patterns(".nami"))
        os.chdir(work / "examples")
        print(f"demo: AWS emulator (moto) on 127.0.0.1:{port}; working in {work}")
        nami("validate", "nami.yaml")
        nami("bootstrap", "--region", REGION)
        version_the_bootstrap_bucket()
        nami("plan", "nami.yaml", "--poll-seconds", "0.2")
        nami("deploy", "nami.yaml", "--poll-seconds", "0.2")
        config = Path("nami.yaml")
        config.write_text(config.read_text().replace("max_concurrency: 20", "max_concurrency: 40"))
        print("\ndemo: raised stripe's consumer.max_concurrency from 20 to 40")
        nami("plan", "nami.yaml", "--diff", "--detailed-exitcode", "--poll-seconds", "0.2")
        nami("deploy", "nami.yaml", "--poll-seconds", "0.2")
        nami("plan", "nami.yaml", "--detailed-exitcode")
        nami("status", "nami.yaml")
    finally:
        os.chdir(EXAMPLES)
        shutil.rmtree(work, ignore_errors=True)
        server.stop()
        print("\ndemo: emulator stopped")


if __name__ == "__main__":
    main()
