"""Names and tags a config's pipelines get in AWS, derived from the config alone: the language
checks them against AWS's limits (validate) and the compiler writes them (compile/names.py
re-exports them), so both read one definition and the config package never imports compile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nami_action import __version__

if TYPE_CHECKING:
    from nami_action.config.validate import Config, PipelineConfig

TAG_PROJECT = "nami:project"
TAG_PIPELINE = "nami:pipeline"
TAG_VERSION = "nami:version"


def queue_name(pipeline: PipelineConfig) -> str:
    """Named queues: a change that would replace one fails instead of orphaning messages,
    and the DLQ's redrive-allow policy can name its source without a dependency cycle."""
    return pipeline.stack_name + (".fifo" if pipeline.spec.queue.fifo else "")


def dead_letter_queue_name(pipeline: PipelineConfig) -> str:
    return f"{pipeline.stack_name}-dlq" + (".fifo" if pipeline.spec.queue.fifo else "")


def resource_tags(config: Config, pipeline: PipelineConfig) -> dict[str, str]:
    tags = {**config.tags, **pipeline.spec.tags}
    tags.update(
        {TAG_PROJECT: config.project, TAG_PIPELINE: pipeline.name, TAG_VERSION: __version__}
    )
    return dict(sorted(tags.items()))
