"""The Plan and the deploy Result: plain data that every renderer reads.

Nothing renders while planning; the terminal table, the Markdown PR comment, the job summary
and the JSON file are all views of these objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "delete", "none"]
Outcome = Literal[
    "created", "updated", "deleted", "unchanged", "failed", "skipped", "refused", "restored"
]
WarningKind = Literal[
    "queue-replaced",
    "queue-removed",
    "messages-waiting",
    "pipeline-deleted",
    "stack-busy",
    "logging-role-missing",
    "drifted",  # live resources differ from the deployed template (nami_action/drift)
    "drift-unchecked",
    "endpoint-changed",  # the ingress kind changes, and the URL with it (plan/endpoints.py)
    "endpoint-live",  # an earlier kind's endpoint still gets requests: it stays
    "endpoint-retired",  # an earlier kind's endpoint was quiet long enough: removed
]


@dataclass(frozen=True)
class ResourceChange:
    """One row of a change set, as SAM prints it."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True | False | Conditional | "" (unknown, e.g. on the emulator)


@dataclass(frozen=True)
class SettingChange:
    """One setting of nami.yaml as written (defaults merged), deployed -> compiled."""

    key: str  # dotted, e.g. `consumer.memory`
    before: str | None  # None: not set (the default applies)
    after: str | None


@dataclass(frozen=True)
class PackageChange:
    name: str
    before: str  # "": not installed before
    after: str  # "": no longer installed


@dataclass(frozen=True)
class CodeChange:
    """The consumer zip, deployed -> compiled (package/manifest.py records what it holds)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    packages: list[PackageChange] = field(default_factory=list)
    runtime: bool = False  # the nami runtime in the zip changed (a nami upgrade)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.packages or self.runtime)


@dataclass(frozen=True)
class PlanWarning:
    pipeline: str
    kind: WarningKind
    message: str
    loses_messages: bool = False
    resource: str = ""  # the logical id it is about, where one (a replaced queue)


@dataclass(frozen=True)
class PipelinePlan:
    pipeline: str
    stack_name: str
    action: Action
    reason: str = ""
    changes: list[ResourceChange] = field(default_factory=list)
    diff: str = ""
    warnings: list[PlanWarning] = field(default_factory=list)
    messages_waiting: int | None = None
    line: int | None = None  # where the pipeline is declared in nami.yaml, for annotations
    endpoint: str | None = None
    error: str = ""  # the change set could not be made (e.g. failed validation): why
    cost: PipelineCost | None = None  # estimated cost, deployed -> compiled
    retries: str = ""  # the retry horizon, e.g. "8 attempts over about 4 h 15 m"
    forward: str = ""  # `forward:` bounds and the drain time of a backlog
    routes: list[str] = field(default_factory=list)  # `routes:` one line per route
    paused: bool = False  # `nami pause`: the consumer takes nothing; deploy keeps it so
    settings: list[SettingChange] = field(default_factory=list)  # as written in nami.yaml
    settings_note: str = ""  # why no settings can be listed (e.g. an older deployed template)
    code: CodeChange | None = None  # the consumer's code, when it changed
    ingress: str = ""  # what to know about the endpoint (plan/endpoints.py, ingress_note)

    @property
    def changed(self) -> bool:
        return self.action != "none"

    @property
    def drifted(self) -> bool:
        return any(warning.kind == "drifted" for warning in self.warnings)


@dataclass(frozen=True)
class Plan:
    project: str
    config_file: str
    region: str
    pipelines: list[PipelinePlan]
    cost: PlanCost | None = None
    prune: bool = False  # planned for a deploy that deletes pipelines removed from nami.yaml

    @property
    def changed(self) -> list[PipelinePlan]:
        return [p for p in self.pipelines if p.changed]

    @property
    def warnings(self) -> list[PlanWarning]:
        """Every pipeline's warnings, each text once: a warning about the account or region
        (the logging role) is attached to every pipeline it concerns, and said once."""
        unique: dict[tuple[str, str], PlanWarning] = {}
        for warning in (w for p in self.pipelines for w in p.warnings):
            unique.setdefault((warning.kind, warning.message), warning)
        return list(unique.values())

    @property
    def has_changes(self) -> bool:
        return bool(self.changed)

    @property
    def errors(self) -> list[PipelinePlan]:
        return [p for p in self.pipelines if p.error]

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0, "none": 0}
        for pipeline in self.pipelines:
            counts[pipeline.action] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        data["has_changes"] = self.has_changes
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        pipelines = [
            PipelinePlan(
                **{
                    **p,
                    "changes": [ResourceChange(**c) for c in p.get("changes", [])],
                    "warnings": [PlanWarning(**w) for w in p.get("warnings", [])],
                    "cost": _cost_from_dict(p.get("cost")),
                    "settings": [SettingChange(**c) for c in p.get("settings", [])],
                    "code": _code_from_dict(p.get("code")),
                }
            )
            for p in data["pipelines"]
        ]
        cost = PlanCost(**data["cost"]) if data.get("cost") else None
        return cls(
            data["project"],
            data["config_file"],
            data["region"],
            pipelines,
            cost,
            prune=bool(data.get("prune", False)),
        )


@dataclass(frozen=True)
class PipelineResult:
    pipeline: str
    stack_name: str
    action: Action
    outcome: Outcome
    seconds: float = 0.0
    endpoint: str | None = None
    reasons: list[str] = field(default_factory=list)  # failing resources' status reasons
    dashboard: str | None = None  # CloudWatch console URL of the pipeline's dashboard
    paused: bool = False  # the consumer was paused before the deploy and kept so

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "refused")


@dataclass(frozen=True)
class DeployResult:
    project: str
    region: str
    pipelines: list[PipelineResult]

    @property
    def failed(self) -> list[PipelineResult]:
        return [p for p in self.pipelines if p.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def endpoints(self) -> dict[str, str]:
        return {p.pipeline: p.endpoint for p in self.pipelines if p.endpoint}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["endpoints"] = self.endpoints()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- cost


@dataclass(frozen=True)
class CostLine:
    """One side (deployed or compiled) of a pipeline's estimated cost, in USD."""

    per_million: float  # per million webhooks
    fixed_monthly: float  # per month, whatever the traffic
    monthly: float | None = None  # at the given or measured traffic
    per_million_parts: dict[str, float] = field(default_factory=dict)
    fixed_parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineCost:
    before: CostLine | None  # what is deployed (None: nothing, or unknown)
    after: CostLine | None  # what nami.yaml compiles to (None: deleted)
    webhooks_per_month: float | None = None
    kept: bool = False  # removed from nami.yaml, but stays deployed (no --prune): after = before
    # `routes:` each route's own figures as compiled (part of `after`): per million it gets.
    routes: dict[str, CostLine] = field(default_factory=dict)

    @property
    def moved(self) -> bool:
        if self.before is None or self.after is None:
            return self.before is not self.after
        return (_cents(self.before.per_million), _cents(self.before.fixed_monthly)) != (
            _cents(self.after.per_million),
            _cents(self.after.fixed_monthly),
        )


@dataclass(frozen=True)
class PlanCost:
    """How the figures were made; `note` says why there are none (e.g. an unknown region)."""

    region: str
    prices_read: str = ""
    assumptions: str = ""
    traffic: str = ""
    note: str = ""


def _cents(value: float) -> int:
    return round(value * 100)


def _code_from_dict(data: dict[str, Any] | None) -> CodeChange | None:
    if not data:
        return None
    packages = [PackageChange(**p) for p in data.get("packages", [])]
    return CodeChange(**{**data, "packages": packages})


def _cost_from_dict(data: dict[str, Any] | None) -> PipelineCost | None:
    if not data:
        return None
    before, after = (CostLine(**data[k]) if data.get(k) else None for k in ("before", "after"))
    return PipelineCost(
        before,
        after,
        webhooks_per_month=data.get("webhooks_per_month"),
        kept=bool(data.get("kept", False)),
        routes={name: CostLine(**line) for name, line in (data.get("routes") or {}).items()},
    )
