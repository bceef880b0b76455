"""`invoke lab.*`: bring the lab of real broken WordPress hosts up and down."""

from __future__ import annotations

import shutil
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tests.lab import faults, lab

REPO_INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab.yml"


def _inventory_copy() -> None:
    REPO_INVENTORY.parent.mkdir(exist_ok=True)
    shutil.copyfile(lab.inventory_path(), REPO_INVENTORY)


@task(
    help={
        "count": "number of hosts (web1..webN)",
        "apache": "comma-separated host numbers served by Apache",
        "fault": "comma-separated faults to inject on every new host (see lab.faults)",
    }
)
def up(c: Context, count: int = 1, apache: str = "", fault: str = "") -> None:
    """Bring up lab hosts (real sshd, nginx/Apache, PHP-FPM 8.2, WordPress) and write the inventory."""
    try:
        apache_idx = [int(x) for x in apache.split(",") if x.strip()]
        hosts = lab.up(count, apache=apache_idx)
        for h in hosts:
            if fault:
                faults.apply(h, *[f.strip() for f in fault.split(",") if f.strip()])
    except (lab.LabError, KeyError, ValueError) as exc:
        raise Exit(f"lab.up: {exc}", 2) from None
    _inventory_copy()
    for h in hosts:
        status, _ = h.http("/")
        print(f"{h.name}: {h.web} on {h.addr}, ssh root@{h.addr}, site {h.url} answers HTTP {status}")
    print(f"inventory: {REPO_INVENTORY} (also {lab.inventory_path()})")


@task
def down(c: Context) -> None:
    """Stop every lab host (exactly the processes lab.up started) and remove their state."""
    names = lab.down()
    REPO_INVENTORY.unlink(missing_ok=True)
    print("stopped: " + (", ".join(names) or "nothing was running"))


@task(help={"name": "lab host to rebuild from pristine packages", "fault": "faults to inject after the reset"})
def reset(c: Context, name: str, fault: str = "") -> None:
    """Rebuild one lab host healthy (optionally with faults)."""
    try:
        h = lab.reset(name)
        if fault:
            faults.apply(h, *[f.strip() for f in fault.split(",") if f.strip()])
    except (lab.LabError, KeyError) as exc:
        raise Exit(f"lab.reset: {exc}", 2) from None
    print(f"{h.name}: HTTP {h.http('/')[0]}")


@task(help={"name": "lab host", "fault": "comma-separated fault names"})
def fault(c: Context, name: str, fault: str) -> None:
    """Inject faults into a running lab host."""
    try:
        faults.apply(lab.get(name), *[f.strip() for f in fault.split(",") if f.strip()])
    except (lab.LabError, KeyError) as exc:
        raise Exit(f"lab.fault: {exc}", 2) from None
    print(f"{name}: HTTP {lab.get(name).http('/')[0]}")


@task
def status(c: Context) -> None:
    """Show lab hosts, their namespace init PIDs and what the site answers."""
    rows = lab.status()
    if not rows:
        print("no lab hosts")
    for r in rows:
        print(
            f"{r['name']:8} {r['web']:7} {r['addr']:12} running={r['running']} "
            f"init_pid={r['init_pid']} http={r['http']}"
        )


@task(name="faults")
def list_faults(c: Context) -> None:
    """List the fault names."""
    for name, fn in faults.FAULTS.items():
        print(f"{name:22} {(fn.__doc__ or '').strip()}")


ns = Collection("lab", up, down, reset, fault, status, list_faults)
