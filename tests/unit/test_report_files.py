"""Files fix502 writes on the controller: reports and escalation bundles."""

from __future__ import annotations

import json
from pathlib import Path

from remediations.inventory import Host
from remediations.report import write_bundle, write_json
from remediations.results import HostResult, Status


def test_a_symlink_planted_beside_the_report_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "report.json.tmp").symlink_to(victim)  # the old fixed temp name
    write_json(str(tmp_path / "report.json"), {"ok": True})
    assert victim.read_text() == "keep me\n"
    assert json.loads((tmp_path / "report.json").read_text()) == {"ok": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.json.tmp", "victim"]


def test_bundles_of_hosts_whose_names_differ_after_the_last_dot_do_not_overwrite_each_other(tmp_path: Path) -> None:
    paths = set()
    for name in ("web1.example.com", "web1.example.org"):
        r = HostResult(name, status=Status.ESCALATED, causes=["unknown"])
        paths.add(write_bundle(str(tmp_path), "run1", Host(name, "192.0.2.1"), r))
    assert len(paths) == 2 and all(Path(p).exists() for p in paths)
    assert len(list(tmp_path.glob("*.json"))) == 2
