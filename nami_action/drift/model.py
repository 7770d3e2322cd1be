"""The drift report: plain data that the text, Markdown and JSON renderers read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FindingKind = Literal["modified", "deleted"]
Source = Literal["live", "cloudformation"]
EXIT_CLEAN, EXIT_ERROR, EXIT_DRIFTED = 0, 1, 2


@dataclass(frozen=True)
class Finding:
    """One drifted property (or a deleted resource: property "")."""

    logical_id: str
    resource_type: str
    property: str
    declared: str  # as shown: secret-looking values are never shown
    live: str
    kind: FindingKind = "modified"
    source: Source = "live"  # read directly, or reported by CloudFormation drift detection

    def summary(self) -> str:
        if self.kind == "deleted":
            return f"{self.logical_id} deleted"
        return f"{self.logical_id} {self.property} {self.declared} -> {self.live}"


@dataclass(frozen=True)
class PipelineDrift:
    pipeline: str
    stack_name: str
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # resources whose live properties were read
    error: str = ""  # the pipeline could not be checked: why

    @property
    def drifted(self) -> bool:
        return bool(self.findings)

    def summary(self, limit: int = 5) -> str:
        """One line for a plan warning: the first findings, then how many more."""
        shown = "; ".join(f.summary() for f in self.findings[:limit])
        more = len(self.findings) - limit
        return shown + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class DriftReport:
    project: str
    region: str
    pipelines: list[PipelineDrift]
    notes: list[str] = field(default_factory=list)  # e.g. CloudFormation detection unavailable

    @property
    def drifted(self) -> list[PipelineDrift]:
        return [p for p in self.pipelines if p.drifted]

    @property
    def errors(self) -> list[PipelineDrift]:
        return [p for p in self.pipelines if p.error]

    @property
    def exit_code(self) -> int:
        """0 clean, 2 drift found, 1 when a pipeline could not be checked."""
        if self.errors:
            return EXIT_ERROR
        return EXIT_DRIFTED if self.drifted else EXIT_CLEAN

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drifted"] = [p.pipeline for p in self.drifted]
        data["exit_code"] = self.exit_code
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        pipelines = [
            PipelineDrift(
                pipeline=p["pipeline"],
                stack_name=p["stack_name"],
                findings=[Finding(**f) for f in p.get("findings", [])],
                checked=int(p.get("checked", 0)),
                error=str(p.get("error", "")),
            )
            for p in data["pipelines"]
        ]
        return cls(data["project"], data["region"], pipelines, list(data.get("notes", [])))
