"""The compiler's exact figures for the AWS limits checked at validate time
(config.limits.Measure), importing the compiler only when a cheap bound makes one necessary:
`nami validate` of a usual config does not pay for importing troposphere. The commands and
the Action pass COMPILER to `load_config`; the config package never imports compile."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nami_action.config import Config, PipelineConfig


class _Compiler:
    def environment_bytes(self, config: Config, pipeline: PipelineConfig) -> int:
        from nami_action.compile.limits import environment_bytes

        return environment_bytes(config, pipeline)

    def resource_count(self, config: Config, pipeline: PipelineConfig) -> int | None:
        from nami_action.compile.limits import resource_count

        return resource_count(config, pipeline)


COMPILER = _Compiler()
