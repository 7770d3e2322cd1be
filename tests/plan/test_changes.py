"""What changed, from what two templates record: settings as written, files and packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nami_action.package.archive import Entry
from nami_action.package.manifest import MAX_FILES, build_manifest, installed_packages
from nami_action.plan.changes import NOT_RECORDED, code_change, setting_changes
from nami_action.plan.model import PackageChange, PipelinePlan, Plan, SettingChange
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text


def entries(root: Path, files: dict[str, str]) -> list[Entry]:
    found = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        found.append(Entry(name, path, False))
    return found


def template(settings: dict[str, Any], code: dict[str, Any] | None = None) -> dict[str, Any]:
    recorded: dict[str, Any] = {"settings": settings}
    if code is not None:
        recorded["code"] = code
    return {"Metadata": {"Nami": recorded}, "Resources": {}}


def test_packages_and_files_from_two_zips(tmp_path: Path) -> None:
    runtime = entries(tmp_path / "rt", {"nami_runtime/a.py": "x = 1\n"})
    deps_old = entries(
        tmp_path / "d1",
        {
            "requests-2.31.0.dist-info/METADATA": "Name: requests\n",
            "requests/__init__.py": "",
            "Jinja2-3.1.3.dist-info/METADATA": "",
            "old_only-1.0.dist-info/METADATA": "",
        },
    )
    deps_new = entries(
        tmp_path / "d2",
        {
            "requests-2.32.3.dist-info/METADATA": "Name: requests\n",
            "jinja2-3.1.3.dist-info/METADATA": "",
            "typing_extensions-4.12.2.dist-info/METADATA": "",
        },
    )
    code_old = entries(tmp_path / "c1", {"handler.py": "a\n", "util.py": "u\n", "gone.py": "g\n"})
    code_new = entries(tmp_path / "c2", {"handler.py": "b\n", "util.py": "u\n", "new.py": "n\n"})
    before = build_manifest(code_old, deps_old, runtime).to_metadata()
    after = build_manifest(code_new, deps_new, runtime).to_metadata()
    change = code_change(template({}, before), template({}, after))
    assert change is not None
    assert (change.added, change.changed, change.removed) == (
        ["new.py"],
        ["handler.py"],
        ["gone.py"],
    )
    assert change.packages == [
        PackageChange("old-only", "1.0", ""),
        PackageChange("requests", "2.31.0", "2.32.3"),
        PackageChange("typing-extensions", "", "4.12.2"),
    ]
    assert not change.runtime
    assert code_change(template({}, before), template({}, before)) is None
    text = plan_text(
        Plan("p", "nami.yaml", "us-east-1", [PipelinePlan("a", "p-a", "update", code=change)])
    )
    assert "    code: changed handler.py; added new.py; removed gone.py" in text
    assert (
        "    packages: old-only 1.0 (removed), requests 2.31.0 -> 2.32.3, "
        "typing-extensions 4.12.2 (added)" in text
    )


def test_installed_packages_reads_dist_info_folders(tmp_path: Path) -> None:
    found = installed_packages(
        entries(tmp_path, {"PyYAML-6.0.2.dist-info/RECORD": "", "yaml/__init__.py": ""})
    )
    assert found == (("pyyaml", "6.0.2"),)


def test_many_files_are_one_digest(tmp_path: Path) -> None:
    runtime = entries(tmp_path / "rt", {"nami_runtime/a.py": ""})
    many = {f"m{i}.py": str(i) for i in range(MAX_FILES + 1)}
    before = build_manifest(entries(tmp_path / "a", many), [], runtime).to_metadata()
    assert "files" not in before and before["file_count"] == MAX_FILES + 1
    after = build_manifest(
        entries(tmp_path / "b", {**many, "m0.py": "changed"}), [], runtime
    ).to_metadata()
    change = code_change(template({}, before), template({}, after))
    assert change is not None and change.changed == [f"({MAX_FILES + 1} files, too many to list)"]


def test_settings_as_written_with_defaults_named() -> None:
    before = template({"consumer.memory": 256, "consumer.timeout": "30s", "description": "x"})
    after = template({"consumer.memory": 512, "ingress": "http", "description": "x"})
    changes, note = setting_changes(before, after)
    assert note == ""
    assert changes == [
        SettingChange("consumer.memory", "256", "512"),
        SettingChange("consumer.timeout", "30s", "30 (default)"),
        SettingChange("ingress", "rest (default)", "http"),
    ]


def test_a_template_of_an_older_nami_says_it_records_no_settings() -> None:
    older: dict[str, Any] = {"Metadata": {"Nami": {"cost": {}}}, "Resources": {}}
    changes, note = setting_changes(older, template({"consumer.memory": 512}))
    assert changes == [] and note == NOT_RECORDED
    plan = PipelinePlan("a", "p-a", "update", settings_note=note)
    body = plan_markdown(Plan("p", "nami.yaml", "us-east-1", [plan]))
    assert "_the deployed template records no settings (deployed by an older nami)" in body
