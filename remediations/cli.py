"""The command line: invoke tasks, shared by ``tasks.py`` (``invoke fix-502``) and the ``fix502``
console script (invoke's ``Program`` over the same ``Collection``).

Every error a user can cause ends here as one line and an exit code (2 bad input, 3 unreachable,
1 not fixed) — never a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.program import Program
from invoke.tasks import task

from remediations.cli_inventory import inventory_task
from remediations.errors import Fix502Error, InputError, OptionError
from remediations.fixes import REGISTRY
from remediations.inventory import Host, load_inventory
from remediations.options import whole
from remediations.plan import Plan
from remediations.playbook import DiagnoseStep, Playbook, load_playbook
from remediations.report import Console, report_dict, write_json
from remediations.results import Status
from remediations.runner import RunOptions, new_run_id

if TYPE_CHECKING:
    from remediations.fleet import FleetResult

DEFAULT_INVENTORY = "inventory/hosts.yml"
DEFAULT_PLAYBOOK = "playbooks/fix-502.yml"
PACKAGE_PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"

HELP_SELECT = {
    "host": "host name or pattern (web1, 'web*', 'web1,web2')",
    "group": "inventory group",
    "limit": "Ansible-style limit, e.g. 'web*:!web3'",
    "inventory": f"inventory file or directory (default {DEFAULT_INVENTORY})",
    "vault-password-file": "file holding the Ansible Vault password (executable: its output)",
    "ask-vault-pass": "prompt for the Ansible Vault password (needs a terminal)",
    "ssh-config": "ssh client config instead of ~/.ssh/config and /etc/ssh/ssh_config (ssh -F)",
}


def _fail(exc: Fix502Error) -> Exit:
    return Exit(exc.one_line(), exc.exit_code)


def fix_params() -> dict[str, dict[str, type]]:
    return {fid: dict(cls.params) for fid, cls in REGISTRY.items()}


def resolve_playbook(path: str | None) -> Playbook:
    """The playbook a run uses: the given path, else ./playbooks/fix-502.yml, else the packaged one
    (so an installed fix502 works outside the repository); the CLI and `serve` share this rule."""
    chosen = path or DEFAULT_PLAYBOOK
    if path is None and not Path(chosen).exists() and (PACKAGE_PLAYBOOKS / "fix-502.yml").exists():
        chosen = str(PACKAGE_PLAYBOOKS / "fix-502.yml")
    return load_playbook(chosen, fix_params())


@dataclass(frozen=True)
class Selection:
    """Which hosts, from which inventory, connected how: what every task that touches hosts takes."""

    host: str | None = None
    group: str | None = None
    limit: str | None = None
    inventory: str | None = None
    vault_password_file: str | None = None
    ask_vault_pass: bool = False
    ssh_config: str | None = None

    @property
    def ssh_config_path(self) -> Path | None:
        return Path(self.ssh_config) if self.ssh_config else None


def _hosts(sel: Selection) -> list[Host]:
    from remediations.cli_inventory import vault_options
    from remediations.transport import check_key_files

    host, group, limit = sel.host, sel.group, sel.limit
    if not (host or group or limit):
        raise OptionError("say which hosts: --host NAME, --group NAME or --limit PATTERN")
    if sel.ssh_config and not Path(sel.ssh_config).is_file():
        raise OptionError(f"--ssh-config {sel.ssh_config}: no such file")
    vault = vault_options(sel.vault_password_file, sel.ask_vault_pass)
    inv = load_inventory(sel.inventory or DEFAULT_INVENTORY, **vault)
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


def _exit_code(statuses: list[Status], dry_run: bool) -> int:
    if Status.UNREACHABLE in statuses:
        return 3
    good = {Status.HEALTHY, Status.FIXED} | ({Status.PLANNED} if dry_run else set())
    return 0 if all(s in good for s in statuses) else 1


@dataclass
class FleetRequest:
    """Everything a fleet run is asked to do, as the CLI received it (invoke hands some options
    over as strings): :meth:`checked` turns it into typed values or one OptionError line."""

    host: str | None = None
    group: str | None = None
    limit: str | None = None
    inventory: str | None = None
    playbook: str | None = None
    dry_run: bool = False
    yes: bool = False
    report_json: str | None = None
    forks: Any = 20
    serial: str | None = None
    max_fail: Any = None
    max_fail_percentage: Any = None
    accept_new_hosts: bool = False
    break_lock: bool = False
    window: Any = 900
    diagnose_only: bool = False
    vault_password_file: str | None = None
    ask_vault_pass: bool = False
    ssh_config: str | None = None
    executor: str | None = None  # --executor URL: shard over `fix502 worker` processes (Celery on Redis)
    least_privilege: bool = False

    @property
    def selection(self) -> Selection:
        return Selection(
            self.host,
            self.group,
            self.limit,
            self.inventory,
            self.vault_password_file,
            self.ask_vault_pass,
            self.ssh_config,
        )

    def checked(self) -> FleetRequest:
        from remediations.serial import parse_max_fail_percentage

        out = dataclasses.replace(self)
        # invoke casts an option to its default's type and dies with a traceback on a bad value:
        # the tasks take these as strings (default None) and they are checked here instead.
        out.forks = whole("--forks", 20 if self.forks is None else self.forks, minimum=1)
        out.window = whole("--window", 900 if self.window is None else self.window, minimum=1)
        out.max_fail = None if self.max_fail is None else whole("--max-fail", self.max_fail, minimum=1)
        pct = self.max_fail_percentage
        out.max_fail_percentage = None if pct is None else parse_max_fail_percentage(str(pct))
        if self.report_json:
            check_report_path(self.report_json)
        return out


def check_report_path(path: str) -> None:
    """--report-json is written after the hosts were touched: refuse a path that cannot be
    written before anything starts, not after."""
    target = Path(path)
    if target.is_dir():
        raise OptionError(f"--report-json {path}: is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OptionError(f"--report-json {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OptionError(f"--report-json {path}: not writable")


def _prepare(req: FleetRequest) -> tuple[FleetRequest, Playbook, list[Host], list[int]]:
    from remediations.serial import batches

    req = req.checked()
    pb = resolve_playbook(req.playbook)
    if req.diagnose_only:  # evidence only, whatever the default playbook chains after it
        pb = Playbook(name="diagnose", path=pb.path, steps=[DiagnoseStep(window=None, where="diagnose")])
    hosts = _hosts(req.selection)
    return req, pb, hosts, batches(len(hosts), req.serial)


def run_playbook(request: FleetRequest) -> int:
    """The one entry point of ``fix-502`` and ``diagnose``: validate everything, then run."""
    from remediations.fleet import run_fleet
    from remediations.progress import FleetProgress

    console = Console()
    try:
        req, pb, hosts, sizes = _prepare(request)
    except Fix502Error as exc:
        raise _fail(exc) from None
    applying = not (req.dry_run or req.diagnose_only)
    if applying and not req.yes and not sys.stdin.isatty():
        raise Exit(
            "refusing to change hosts without a terminal to confirm on: pass --yes, or --dry-run to see the plan", 2
        )
    executor = _executor(req, applying)
    run_id = new_run_id()
    confirm = None if (req.yes or not applying) else _confirm_factory(console)
    # A live redraw and a y/N prompt cannot share the terminal: prompting runs print plain lines.
    progress = FleetProgress(console, len(hosts), live=console.rich and confirm is None)
    options = RunOptions(
        dry_run=not applying,
        yes=req.yes,
        accept_new_hosts=req.accept_new_hosts,
        break_lock=req.break_lock,
        window=req.window,
        ssh_config=req.selection.ssh_config_path,
        least_privilege=req.least_privilege,
        processor=progress,
        confirm=confirm,
    )
    verb = "diagnose" if req.diagnose_only else ("dry run" if req.dry_run else "fix")
    console.line(f"fix502 {verb}: run {run_id}, playbook {pb.name}, {len(hosts)} host(s)")
    with progress, _Interrupts(options.stop, progress.say):
        if executor is not None:
            fleet = _run_distributed(executor, hosts, pb, options, run_id, req, sizes)
        else:
            fleet = run_fleet(
                hosts,
                pb,
                options,
                run_id,
                forks=req.forks,
                batches=sizes,
                max_fail=req.max_fail,
                max_fail_pct=req.max_fail_percentage,
            )
    return _conclude(console, req, run_id, pb, options, fleet)


def _executor(req: FleetRequest, applying: bool) -> Any:
    """--executor: the checked connection to Redis and its workers, or one line and exit 2."""
    if not req.executor:
        return None
    from remediations.distributed.controller import Executor

    if applying and not req.yes:
        raise Exit("--executor: workers cannot ask for confirmation: pass --yes, or --dry-run to see the plan", 2)
    try:
        return Executor.open(req.executor)
    except Fix502Error as exc:
        raise _fail(exc) from None


def _run_distributed(
    executor: Any,
    hosts: list[Host],
    pb: Playbook,
    options: RunOptions,
    run_id: str,
    req: FleetRequest,
    sizes: list[int],
) -> FleetResult:
    import redis

    try:
        return executor.run(  # type: ignore[no-any-return]
            hosts,
            pb,
            options,
            run_id,
            diagnose_only=req.diagnose_only,
            batches=sizes,
            max_fail=req.max_fail,
            max_fail_pct=req.max_fail_percentage,
        )
    except redis.RedisError as exc:
        said = f"--executor: lost Redis during run {run_id}: {exc} (the hosts' journals stay: fix502 rollback)"
        raise Exit(said, 1) from None
    finally:
        executor.close()


def _conclude(
    console: Console, req: FleetRequest, run_id: str, pb: Playbook, options: RunOptions, fleet: FleetResult
) -> int:
    results = fleet.results
    if req.diagnose_only:
        for name, r in results.items():
            if r.checks:
                console.doctor(name, r)
            for n in r.facts.notes if r.facts else []:
                console.line(f"  note: {n}")
    elif req.dry_run:
        console.plans(results)
    console.recap(results, fleet.stopped)
    if req.report_json:
        write_json(req.report_json, report_dict(run_id, pb.name, options.dry_run, results, fleet.stopped))
        console.line(f"report: {req.report_json}")
    statuses = [r.status for r in results.values()]
    if req.diagnose_only:
        statuses = [
            s if s == Status.UNREACHABLE else Status.HEALTHY if r.causes == ["healthy"] else Status.FAILED
            for s, r in zip(statuses, results.values(), strict=True)
        ]
    return _exit_code(statuses, options.dry_run and not req.diagnose_only)


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
    "executor": "shard the run over `fix502 worker` processes via this Redis URL (redis://HOST:PORT/DB)",
    "least-privilege": "only WordPress-level fixes (caches, plugins, theme), even where root or sudo works",
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
    forks: str | None = None,
    serial: str | None = None,
    max_fail: int | None = None,
    max_fail_percentage: float | None = None,
    accept_new_hosts: bool = False,
    break_lock: bool = False,
    window: str | None = None,
    vault_password_file: str | None = None,
    ask_vault_pass: bool = False,
    ssh_config: str | None = None,
    executor: str | None = None,
    least_privilege: bool = False,
) -> None:
    """Diagnose and fix 502 Bad Gateway on the selected hosts."""
    args = dict(locals())
    args.pop("c")
    code = run_playbook(FleetRequest(**args))
    if code:
        raise Exit(code=code)


@task(
    help={
        **HELP_SELECT,
        "report-json": "write the JSON report here",
        "forks": "parallel hosts",
        "accept-new-hosts": "trust unknown host keys on first use",
        "window": "log window in seconds",
        "executor": "shard over `fix502 worker` processes via this Redis URL",
    }
)
def diagnose(
    c: Context,
    host: str | None = None,
    group: str | None = None,
    limit: str | None = None,
    inventory: str | None = None,
    report_json: str | None = None,
    forks: str | None = None,
    accept_new_hosts: bool = False,
    window: str | None = None,
    vault_password_file: str | None = None,
    ask_vault_pass: bool = False,
    ssh_config: str | None = None,
    executor: str | None = None,
) -> None:
    """Collect evidence and name the causes; changes nothing."""
    code = run_playbook(
        FleetRequest(
            host=host,
            group=group,
            limit=limit,
            inventory=inventory,
            report_json=report_json,
            forks=forks,
            accept_new_hosts=accept_new_hosts,
            window=window,
            diagnose_only=True,
            vault_password_file=vault_password_file,
            ask_vault_pass=ask_vault_pass,
            ssh_config=ssh_config,
            executor=executor,
        )
    )
    if code:
        raise Exit(code=code)


@task(
    help={
        **HELP_SELECT,
        "run": "run id to undo (default: the latest run on each host)",
        "accept-new-hosts": "trust unknown host keys on first use",
        "break-lock": "take the host lock even if another (dead) run holds it",
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
    break_lock: bool = False,
    vault_password_file: str | None = None,
    ask_vault_pass: bool = False,
    ssh_config: str | None = None,
) -> None:
    """Undo a run's changes from the journal on each host (works after the controller died)."""
    console = Console()
    sel = Selection(host, group, limit, inventory, vault_password_file, ask_vault_pass, ssh_config)
    try:
        hosts = _hosts(sel)
    except Fix502Error as exc:
        raise _fail(exc) from None
    worst = 0
    for h in hosts:
        try:
            said = _rollback_one(h, run, accept_new_hosts=accept_new_hosts, break_lock=break_lock, sel=sel)
            console.line(f"[{h.name}] {said}")
        except Fix502Error as exc:
            console.line(f"[{h.name}] rollback failed: {exc.one_line()}")
            worst = max(worst, exc.exit_code)
    if worst:
        raise Exit(code=worst)


def _rollback_one(h: Host, run: str | None, *, accept_new_hosts: bool, break_lock: bool, sel: Selection) -> str:
    """Under the host lock, like any run: a rollback racing a fix would undo half of it.  The
    journals are looked for where this login's runs keep them (root's, the account's, over SFTP)."""
    from remediations.journals import HostJournals
    from remediations.transport import connect

    t = connect(h, accept_new_hosts=accept_new_hosts, ssh_config=sel.ssh_config_path)
    lock_id = f"rollback-{new_run_id()}"
    try:
        journals = HostJournals(t, h)
        try:
            journals.lock(lock_id, break_lock=break_lock)
            try:
                runs = journals.runs()
                target = run or (runs[-1] if runs else None)
                if target is None:
                    return "no fix502 run journaled on this host"
                if target not in runs:
                    raise InputError(f"no run {target} on this host (runs: {', '.join(runs) or 'none'})", where=h.name)
                steps = journals.undo(target)
                said = "; ".join(steps) or "nothing left to undo"
                return f"rolled back run {target}" + (" over SFTP" if journals.sftp else "") + f": {said}"
            finally:
                journals.unlock(lock_id)
        finally:
            journals.close()
    finally:
        t.close()


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


def build_namespace() -> Collection:
    ns = Collection()
    ns.add_task(fix_502)
    ns.add_task(diagnose)
    ns.add_task(rollback)
    ns.add_collection(Collection("playbook", playbook_check))
    ns.add_collection(Collection("fixes", fixes_list))
    ns.add_task(inventory_task)
    from remediations.distributed.tasks import worker  # no Celery import until a worker starts

    ns.add_task(worker)
    from remediations.serve.tasks import add_tasks  # serve, approve, breaker-reset

    add_tasks(ns)
    return ns


ns = build_namespace()
program = Program(namespace=ns, name="fix502", binary="fix502", version="0.1.0")


def main() -> None:
    program.run()
