"""The command line: invoke tasks, shared by ``tasks.py`` (``invoke fix-502``) and the ``fix502``
console script (invoke's ``Program`` over the same ``Collection``).

Every error a user can cause ends here as one line and an exit code (2 bad input, 3 unreachable,
1 not fixed) — never a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.program import Program
from invoke.tasks import task

from remediations.errors import Fix502Error, InputError, OptionError
from remediations.fixes import REGISTRY
from remediations.inventory import Host, load_inventory
from remediations.plan import Plan
from remediations.playbook import DiagnoseStep, Playbook, load_playbook
from remediations.report import Console, report_dict, write_json
from remediations.runner import RunOptions, new_run_id

DEFAULT_INVENTORY = "inventory/hosts.yml"
DEFAULT_PLAYBOOK = "playbooks/fix-502.yml"
PACKAGE_PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"

HELP_SELECT = {
    "host": "host name or pattern (web1, 'web*', 'web1,web2')",
    "group": "inventory group",
    "limit": "Ansible-style limit, e.g. 'web*:!web3'",
    "inventory": f"inventory file (default {DEFAULT_INVENTORY})",
}


def _fail(exc: Fix502Error) -> Exit:
    return Exit(exc.one_line(), exc.exit_code)


def fix_params() -> dict[str, dict[str, type]]:
    return {fid: dict(cls.params) for fid, cls in REGISTRY.items()}


def _playbook(path: str | None) -> Playbook:
    chosen = path or DEFAULT_PLAYBOOK
    if path is None and not Path(chosen).exists() and (PACKAGE_PLAYBOOKS / "fix-502.yml").exists():
        chosen = str(PACKAGE_PLAYBOOKS / "fix-502.yml")
    return load_playbook(chosen, fix_params())


def _hosts(inventory: str | None, host: str | None, group: str | None, limit: str | None) -> list[Host]:
    if not (host or group or limit):
        raise OptionError("say which hosts: --host NAME, --group NAME or --limit PATTERN")
    from remediations.transport import check_key_files

    inv = load_inventory(inventory or DEFAULT_INVENTORY)
    selected = inv.select(host=host, group=group, limit=limit)
    check_key_files(selected)
    return selected


class _Interrupts:
    """First Ctrl-C/SIGTERM: start nothing new, let running steps finish or roll back.
    Second Ctrl-C: abort now (the journal on each host still lets `rollback` finish the job)."""

    def __init__(self, stop: threading.Event, say: Callable[[str], None]) -> None:
        self.stop, self.say, self.count = stop, say, 0
        self.old: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.stop.set()
        if self.count == 1:
            self.say(
                "interrupt: no new host or fix will start; running steps finish or roll back "
                "(interrupt again to abort; `fix502 rollback` restores from the journal)"
            )
            return
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)


def _confirm_factory(console: Console) -> Callable[[str, Plan], bool]:
    lock = threading.Lock()

    def confirm(host: str, plan: Plan) -> bool:
        with lock:
            console.line(f"--- {host}: proposed change")
            console.line(plan.render())
            try:
                answer = input(f"apply {plan.fix_id} on {host}? [y/N] ")
            except EOFError:
                return False
            return answer.strip().lower() in ("y", "yes")

    return confirm


def _exit_code(statuses: list[str], dry_run: bool) -> int:
    if "unreachable" in statuses:
        return 3
    good = {"healthy", "fixed"} | ({"planned"} if dry_run else set())
    return 0 if all(s in good for s in statuses) else 1


def run_playbook(
    *,
    inventory: str | None,
    host: str | None,
    group: str | None,
    limit: str | None,
    playbook: str | None,
    dry_run: bool,
    yes: bool,
    report_json: str | None,
    forks: int,
    serial: str | None,
    max_fail: int | None,
    max_fail_percentage: float | None,
    accept_new_hosts: bool,
    break_lock: bool,
    window: int,
    diagnose_only: bool = False,
) -> int:
    from remediations.fleet import run_fleet
    from remediations.progress import FleetProgress
    from remediations.serial import batches, parse_max_fail_percentage

    console = Console()
    try:
        pb = _playbook(playbook)
        if diagnose_only:  # evidence only, whatever the default playbook chains after it
            pb = Playbook(name="diagnose", path=pb.path, steps=[DiagnoseStep(window=None, where="diagnose")])
        hosts = _hosts(inventory, host, group, limit)
        sizes = batches(len(hosts), serial)
        # invoke hands options whose default is None over as strings: coerce them here, once.
        pct = parse_max_fail_percentage(str(max_fail_percentage)) if max_fail_percentage is not None else None
        try:
            forks = int(forks)
            max_fail = int(max_fail) if max_fail is not None else None
        except ValueError:
            raise OptionError(f"--forks/--max-fail take whole numbers, not {forks!r}/{max_fail!r}") from None
        if forks < 1:
            raise OptionError("--forks must be at least 1")
        if max_fail is not None and max_fail < 1:
            raise OptionError("--max-fail must be at least 1")
    except Fix502Error as exc:
        raise _fail(exc) from None
    interactive = sys.stdin.isatty()
    applying = not (dry_run or diagnose_only)
    if applying and not yes and not interactive:
        raise Exit(
            "refusing to change hosts without a terminal to confirm on: pass --yes, or --dry-run to see the plan", 2
        )
    run_id = new_run_id()
    confirm = None if (yes or not applying) else _confirm_factory(console)
    # A live redraw and a y/N prompt cannot share the terminal: prompting runs print plain lines.
    progress = FleetProgress(console, len(hosts), live=console.rich and confirm is None)
    options = RunOptions(
        dry_run=dry_run or diagnose_only,
        yes=yes,
        accept_new_hosts=accept_new_hosts,
        break_lock=break_lock,
        window=window,
        on_event=progress.event,
        confirm=confirm,
    )
    verb = "diagnose" if diagnose_only else ("dry run" if dry_run else "fix")
    console.line(f"fix502 {verb}: run {run_id}, playbook {pb.name}, {len(hosts)} host(s)")

    with progress, _Interrupts(options.stop, progress.say):
        fleet = run_fleet(
            hosts,
            pb,
            options,
            run_id,
            forks=forks,
            batches=sizes,
            max_fail=max_fail,
            max_fail_pct=pct,
            on_start=progress.started,
            on_done=progress.done,
        )
    results = fleet.results
    if diagnose_only:
        for name, r in results.items():
            if r.checks:
                console.doctor(name, r)
            for n in r.facts.notes if r.facts else []:
                console.line(f"  note: {n}")
    elif dry_run:
        console.plans(results)
    console.recap(results, fleet.stopped)
    if report_json:
        write_json(report_json, report_dict(run_id, pb.name, options.dry_run, results, fleet.stopped))
        console.line(f"report: {report_json}")
    statuses = [r.status for r in results.values()]
    if diagnose_only:
        statuses = [
            "unreachable" if s == "unreachable" else "healthy" if r.causes == ["healthy"] else "failed"
            for s, r in zip(statuses, results.values(), strict=True)
        ]
    return _exit_code(statuses, options.dry_run and not diagnose_only)


# ----------------------------------------------------------------------------------------------
# tasks
# ----------------------------------------------------------------------------------------------
FLEET_HELP = {
    **HELP_SELECT,
    "playbook": f"playbook file (default {DEFAULT_PLAYBOOK})",
    "dry-run": "print the exact plan (diffs, commands) and change nothing",
    "yes": "apply without asking (required without a terminal)",
    "report-json": "write the JSON report here",
    "forks": "hosts worked on in parallel (default 20)",
    "serial": "batches: '1', '10%' or '1,10%,100%' (canary first)",
    "max-fail": "stop starting hosts after this many failed",
    "max-fail-percentage": "stop starting hosts once more than this % failed",
    "accept-new-hosts": "trust unknown host keys on first use (changed keys are always refused)",
    "break-lock": "take the host lock even if another (dead) run holds it",
    "window": "seconds of logs that count as current evidence (default 900)",
}


@task(name="fix-502", help=FLEET_HELP)
def fix_502(
    c: Context,
    host: str | None = None,
    group: str | None = None,
    limit: str | None = None,
    inventory: str | None = None,
    playbook: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    report_json: str | None = None,
    forks: int = 20,
    serial: str | None = None,
    max_fail: int | None = None,
    max_fail_percentage: float | None = None,
    accept_new_hosts: bool = False,
    break_lock: bool = False,
    window: int = 900,
) -> None:
    """Diagnose and fix 502 Bad Gateway on the selected hosts."""
    code = run_playbook(
        inventory=inventory,
        host=host,
        group=group,
        limit=limit,
        playbook=playbook,
        dry_run=dry_run,
        yes=yes,
        report_json=report_json,
        forks=forks,
        serial=serial,
        max_fail=max_fail,
        max_fail_percentage=max_fail_percentage,
        accept_new_hosts=accept_new_hosts,
        break_lock=break_lock,
        window=window,
    )
    if code:
        raise Exit(code=code)


@task(
    help={
        **HELP_SELECT,
        "report-json": "write the JSON report here",
        "forks": "parallel hosts",
        "accept-new-hosts": "trust unknown host keys on first use",
        "window": "log window in seconds",
    }
)
def diagnose(
    c: Context,
    host: str | None = None,
    group: str | None = None,
    limit: str | None = None,
    inventory: str | None = None,
    report_json: str | None = None,
    forks: int = 20,
    accept_new_hosts: bool = False,
    window: int = 900,
) -> None:
    """Collect evidence and name the causes; changes nothing."""
    code = run_playbook(
        inventory=inventory,
        host=host,
        group=group,
        limit=limit,
        playbook=None,
        dry_run=True,
        yes=False,
        report_json=report_json,
        forks=forks,
        serial=None,
        max_fail=None,
        max_fail_percentage=None,
        accept_new_hosts=accept_new_hosts,
        break_lock=False,
        window=window,
        diagnose_only=True,
    )
    if code:
        raise Exit(code=code)


@task(
    help={
        **HELP_SELECT,
        "run": "run id to undo (default: the latest run on each host)",
        "accept-new-hosts": "trust unknown host keys on first use",
    }
)
def rollback(
    c: Context,
    host: str | None = None,
    group: str | None = None,
    limit: str | None = None,
    inventory: str | None = None,
    run: str | None = None,
    accept_new_hosts: bool = False,
) -> None:
    """Undo a run's changes from the journal on each host (works after the controller died)."""
    from remediations.journal import list_runs, undo_run
    from remediations.transport import connect

    console = Console()
    try:
        hosts = _hosts(inventory, host, group, limit)
    except Fix502Error as exc:
        raise _fail(exc) from None
    worst = 0
    for h in hosts:
        try:
            t = connect(h, accept_new_hosts=accept_new_hosts)
            try:
                runs = list_runs(t)
                target = run or (runs[-1] if runs else None)
                if target is None:
                    console.line(f"[{h.name}] no fix502 run journaled on this host")
                    continue
                if target not in runs:
                    raise InputError(f"no run {target} on this host (runs: {', '.join(runs) or 'none'})", where=h.name)
                steps = undo_run(t, target)
                console.line(f"[{h.name}] rolled back run {target}: " + ("; ".join(steps) or "nothing left to undo"))
            finally:
                t.close()
        except Fix502Error as exc:
            console.line(f"[{h.name}] rollback failed: {exc.one_line()}")
            worst = max(worst, exc.exit_code)
    if worst:
        raise Exit(code=worst)


@task(name="check", help={"path": "playbook to validate"})
def playbook_check(c: Context, path: str) -> None:
    """Validate a playbook (keys, types, fix ids, `when:` expressions) without touching any host."""
    try:
        pb = load_playbook(path, fix_params())
    except Fix502Error as exc:
        raise _fail(exc) from None
    print(f"{path}: ok ({len(pb.steps)} steps)")


@task(name="list")
def fixes_list(c: Context) -> None:
    """List the fixes in the catalogue with the causes they answer."""
    for fid, cls in sorted(REGISTRY.items()):
        print(f"{fid:34} {cls.title}  [{', '.join(sorted(cls.causes))}]")


def _lab() -> Any:
    try:
        from tests.lab import lab_tasks
    except ImportError:
        return None
    return lab_tasks.ns


def build_namespace() -> Collection:
    ns = Collection()
    ns.add_task(fix_502)
    ns.add_task(diagnose)
    ns.add_task(rollback)
    ns.add_collection(Collection("playbook", playbook_check))
    ns.add_collection(Collection("fixes", fixes_list))
    lab = _lab()
    if lab is not None:
        ns.add_collection(lab)
    return ns


ns = build_namespace()
program = Program(namespace=ns, name="fix502", binary="fix502", version="0.1.0")


def main() -> None:
    program.run()
