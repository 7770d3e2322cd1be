"""Generated nami.yaml files of any size, for the benchmarks."""

from __future__ import annotations

from pathlib import Path

PIPELINE = """  hook-{index:04d}:
    verify:
      scheme: {scheme}
      secret: ssm:/bench/hook-{index:04d}
    dedupe:
      header: X-Delivery-Id
    queue:
      max_receive_count: {receives}
    consumer:
      code: consumer
      memory: {memory}
      max_concurrency: {concurrency}
      environment:
        TARGET_URL: https://target.example/{index}
"""
SCHEMES = ["github", "stripe", "shopify", "slack", "standard-webhooks"]


def write_config(folder: Path, count: int, *, project: str = "bench") -> Path:
    """A valid config of `count` pipelines with a shared consumer folder."""
    folder.mkdir(parents=True, exist_ok=True)
    consumer = folder / "consumer"
    consumer.mkdir(exist_ok=True)
    (consumer / "handler.py").write_text("def handle(webhook):\n    return None\n")
    parts = [
        f"version: 1\nproject: {project}\nregion: us-east-1\n"
        "defaults:\n  consumer:\n    timeout: 20s\npipelines:\n"
    ]
    for index in range(count):
        parts.append(
            PIPELINE.format(
                index=index,
                scheme=SCHEMES[index % len(SCHEMES)],
                receives=3 + index % 5,
                memory=128 + 64 * (index % 8),
                concurrency=2 + index % 50,
            )
        )
    path = folder / "nami.yaml"
    path.write_text("".join(parts))
    return path
