"""The nami.yaml language: load (with positions), validate, and the resulting Config."""

from nami_action.config.validate import Config, PipelineConfig, load_config

__all__ = ["Config", "PipelineConfig", "load_config"]
