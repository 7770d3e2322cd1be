"""The drift report for a terminal (a table) and for GitHub (Markdown: job summary, issue)."""

from __future__ import annotations

from nami_action.drift.model import DriftReport, Finding

HEADER = ("Pipeline", "Resource", "Property", "Declared -> Live")
MARKER = "<!-- nami-drift -->"  # finds the one drift issue again (nami_action/github/drift.py)


def _row(pipeline: str, finding: Finding) -> tuple[str, str, str, str]:
    change = "deleted" if finding.kind == "deleted" else f"{finding.declared} -> {finding.live}"
    via = " (CloudFormation)" if finding.source == "cloudformation" else ""
    return pipeline, finding.logical_id, finding.property or "-", change + via


def _headline(report: DriftReport) -> str:
    drifted, checked = len(report.drifted), len(report.pipelines)
    if report.drifted:
        return (
            f"Drift in {report.project} ({report.region}): {drifted} of {checked} pipelines drifted"
        )
    return f"No drift in {report.project} ({report.region}): {checked} pipelines checked"


def drift_text(report: DriftReport) -> str:
    lines = [_headline(report)]
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"error: {p.pipeline}: {p.error}" for p in report.errors]
    rows = [_row(p.pipeline, f) for p in report.pipelines for f in p.findings]
    if rows:
        table = [HEADER, *rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def drift_markdown(report: DriftReport) -> str:
    lines = [MARKER, f"### {_headline(report)}", ""]
    lines += [f"> {_cell(note)}" for note in report.notes]
    lines += [f"> **error** `{_cell(p.pipeline)}`: {_cell(p.error)}" for p in report.errors]
    rows = [_row(p.pipeline, f) for p in report.pipelines for f in p.findings]
    if rows:
        lines += ["", "| " + " | ".join(HEADER) + " |", "|---|---|---|---|"]
        lines += [
            f"| `{_cell(a)}` | `{_cell(b)}` | `{_cell(c)}` | {_cell(d)} |" for a, b, c, d in rows
        ]
        lines += [
            "",
            "`nami deploy` puts the declared values back; or change nami.yaml to keep the live "
            "ones.",
        ]
    return "\n".join(lines) + "\n"
