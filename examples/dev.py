"""`make dev`: the examples running on this machine until Ctrl-C.

Starts the AWS emulator (moto) on 127.0.0.1, bootstraps it and deploys examples/nami.yaml to it
(so `nami plan`, `nami status` and `nami deploy` work against it from another terminal), then
runs `nami dev` on the examples with a signing secret per pipeline, and prints what to paste
into another terminal to send signed webhooks. Ctrl-C stops `nami dev` (in-flight batches
finish) and then the emulator. Works in examples/ itself: edit a handler, restart, try again.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

from demo import REGION, nami

# The folder to run: examples/ itself (edit a handler, restart, try again), or a copy.
EXAMPLES = Path(os.environ.get("NAMI_DEV_EXAMPLES") or Path(__file__).resolve().parent)
EMULATOR_PORT = int(os.environ.get("NAMI_EMULATOR_PORT", "5055"))
DEV_PORT = int(os.environ.get("NAMI_DEV_PORT", "8787"))
PIPELINES = ("github", "stripe", "orders", "slack")


def main() -> None:
    from moto.server import ThreadedMotoServer

    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=EMULATOR_PORT, verbose=False)
    server.start()
    # Fake credentials for the emulator only; nothing here can reach real AWS. The signing
    # secrets are made up for local use; `nami dev` verifies with them, `nami send` signs.
    shared = {
        "NAMI_ENDPOINT_URL": f"http://127.0.0.1:{EMULATOR_PORT}",
        "AWS_ACCESS_KEY_ID": "dev",
        "AWS_SECRET_ACCESS_KEY": "dev",
        "AWS_DEFAULT_REGION": REGION,
        **{f"NAMI_DEV_SECRET_{name.upper()}": f"local-{name}-secret" for name in PIPELINES},
    }
    os.environ.update(shared)
    os.chdir(EXAMPLES)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill <pid>` stops as Ctrl-C does
    try:
        nami("bootstrap", "--region", REGION)
        nami("deploy", "nami.yaml", "--poll-seconds", "0.2")
        _run_dev(shared)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("\nmake dev: nami dev and the emulator stopped", flush=True)


def _run_dev(shared: dict[str, str]) -> None:
    """nami dev in its own session, so that Ctrl-C reaches it once, from here: a second
    signal would make it exit without waiting for in-flight batches."""
    command = [sys.executable, "-m", "nami_action", "dev", "nami.yaml", "--port", str(DEV_PORT)]
    dev = subprocess.Popen(command, start_new_session=True)
    try:
        print(_instructions(shared), flush=True)
        dev.wait()
    except KeyboardInterrupt:
        dev.send_signal(signal.SIGINT)
        dev.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _instructions(shared: dict[str, str]) -> str:
    exports = "".join(f" \\\n    {key}={value}" for key, value in shared.items())
    venv = Path(sys.executable).parent / "activate"
    return f"""
make dev: the AWS emulator runs on {shared["NAMI_ENDPOINT_URL"]} with examples/nami.yaml
deployed; nami dev serves the examples on http://127.0.0.1:{DEV_PORT}. In another terminal:

  source {venv} && cd {EXAMPLES}
  export{exports}
  echo '{{"zen": "Design for failure."}}' > /tmp/ping.json
  nami send github --body /tmp/ping.json --sign --url http://127.0.0.1:{DEV_PORT}
  nami status nami.yaml      # the emulator's stacks; nami plan / deploy work the same way

Ctrl-C here stops nami dev (in-flight batches finish) and then the emulator.
"""


if __name__ == "__main__":
    main()
