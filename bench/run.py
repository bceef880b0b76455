"""Fleet diagnosis on one controller: how fix502's cost grows with N, against OpenSSH doing the same.

    python bench/run.py --hosts 20,50,100,200 --runs 3,3,3,1 [--ansible] [--keep]

Brings up lab hosts web1..webN in their own FIX502_LAB_DIR=/var/lib/fix502-bench with their own
known_hosts file (so no other lab's hosts or keys are touched), growing the lab from one N to the
next, and stops bringing up more when MemAvailable would fall under ``--mem-reserve-gib``.  At each
N, ``runs`` times, interleaved so drift hits every tool alike:

* ``fix502 diagnose --group lab --forks N`` (the console script) — the product;
* the OpenSSH fan-out: one ``ssh host <evidence command>`` per host, all at once, carrying exactly the
  command fix502 sends (``evidence_command(site_url, 400)``: evidence.sh and its arguments) with the
  boundary on stdin, as fix502 sends it;
* the floor: ``ssh host true`` to every host at once — one SSH handshake each, nothing else;
* with ``--ansible``: ``ansible-playbook bench/evidence.yml`` (forks=N, pipelining; slow).

Controller CPU is user+sys of the tool's own process tree, from ``os.wait4`` on each process we
started (it includes the children that process reaped), never this script's.  Peak RSS is the
process's ru_maxrss (for the fan-outs: the sum of the per-ssh peaks, an upper bound).  SSH
connections and round trips per host: fix502's own counters in its JSON report; one each, by
construction, for the fan-outs.

Figures per N are kept in ``--data`` (JSON) and the table is built from all N recorded there, so a
large N can be measured in a later invocation (the lab lock is held < 15 min at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LAB_DIR = Path("/var/lib/fix502-bench")
KNOWN_HOSTS = LAB_DIR / "known_hosts"
os.environ["FIX502_LAB_DIR"] = str(LAB_DIR)  # before tests.lab.lab reads them
os.environ["FIX502_KNOWN_HOSTS"] = str(KNOWN_HOSTS)
sys.path.insert(0, str(REPO))

from remediations.facts.script import evidence_command, evidence_stdin  # noqa: E402
from tests.lab import lab  # noqa: E402

VENV = BENCH / ".venv"
BOUNDARY = "0123456789abcdef0123456789abcdef"  # any 32 hex digits for a benchmark


@dataclass
class Sample:
    """One timed run of one tool over the whole fleet."""

    wall: float
    cpu: float  # user+sys seconds of the tool's processes
    rss_kib: int


@dataclass
class Point:
    """Everything measured at one fleet size."""

    n: int
    runs: int
    samples: dict[str, list[Sample]]
    conns: list[int]
    trips: list[int]
    statuses: list[str]
    mem_available_gib: float
    measured: str
    command: str = ""


def _cpu(usage: os.struct_rusage) -> float:  # type: ignore[name-defined]
    return float(usage.ru_utime + usage.ru_stime)


def ssh_base() -> list[str]:
    return [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={KNOWN_HOSTS}",
        "-o",
        "ControlMaster=no",
        "-i",
        str(lab.KEY),
    ]


def fanout(hosts: list[lab.LabHost], remote: Callable[[lab.LabHost], str], stdin: str | None, work: Path) -> Sample:
    """One ssh process per host, all started at once; wall until the last exits, CPU summed."""
    start = time.perf_counter()
    procs = []
    for h in hosts:
        out = open(work / f"ssh-{h.name}.out", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [*ssh_base(), f"root@{h.addr}", remote(h)],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        procs.append((proc, out, h))
    cpu, rss, failed = 0.0, 0, []
    for proc, out, h in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.close()
        cpu += _cpu(usage)
        rss += usage.ru_maxrss
        if proc.returncode != 0:
            failed.append(h.name)
    wall = time.perf_counter() - start
    if failed:
        raise SystemExit(f"ssh failed on {', '.join(failed)}; see {work}/ssh-HOST.out")
    return Sample(wall, cpu, rss)


def timed(cmd: list[str], *, env: dict[str, str] | None = None, out: Path | None = None) -> tuple[Sample, int]:
    """Wall, CPU and peak RSS of one process (and the children it reaped), and its exit status."""
    sink = open(out, "w") if out else subprocess.DEVNULL  # noqa: SIM115 - closed below
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if out:
        sink.close()  # type: ignore[union-attr]
    return Sample(wall, _cpu(usage), usage.ru_maxrss), os.waitstatus_to_exitcode(status)


def mem_available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def others() -> set[str]:
    """Lab host names we must not use: the main lab's (its hosts share our loopback addresses and
    MariaDB database names) and any address something already listens on."""
    names: set[str] = set()
    main = Path("/var/lib/fix502-lab/hosts.json")
    if main.exists():
        names |= {h["name"] for h in json.loads(main.read_text() or "[]")}
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        addr = line.split()[3].rsplit(":", 1)[0]
        if addr.startswith("127.0.0.") and int(addr.rsplit(".", 1)[1]) > 10:
            names.add(f"web{int(addr.rsplit('.', 1)[1]) - 10}")
    return names


def tear_down() -> None:
    """Stop the bench's hosts, as lab.down does, but leave alone what another lab may share with them:
    a database of the same name (wp_webN) and MariaDB itself while any other lab host is up."""
    hosts = lab.load_hosts()
    for host in hosts.values():
        lab.stop_host(host)
    theirs = others()
    for host in hosts.values():
        if host.name not in theirs:
            lab.sh(["mysql", "--protocol=socket", "-e", f"DROP DATABASE IF EXISTS `wp_{host.name}`"], check=False)
        shutil.rmtree(host.state, ignore_errors=True)
    lab.save_hosts({})
    lab.write_inventory([])
    KNOWN_HOSTS.unlink(missing_ok=True)
    if lab.MARIADB_MARK.exists():
        if not theirs:
            lab.sh("service mariadb stop", check=False, timeout=120)
        lab.MARIADB_MARK.unlink(missing_ok=True)


def bring_up(want: int, have: list[lab.LabHost], reserve_gib: float) -> list[lab.LabHost]:
    """Grow the bench lab to ``want`` hosts (two at a time: the 2 cores are the limit), stopping early
    when memory runs short.  known_hosts writes are serialised (lab.trust_host_key rewrites the file)."""
    lab.prepare()
    taken = {h.name for h in have} | others()
    names = [f"web{i}" for i in range(1, 201) if f"web{i}" not in taken][: want - len(have)]
    if len(have) + len(names) < want:
        print(f"  only {len(have) + len(names)} of web1..web200 are free (other labs hold {len(taken)})", flush=True)
    lock = threading.Lock()
    trust = lab.trust_host_key

    def locked_trust(host: lab.LabHost) -> None:
        with lock:
            trust(host)

    lab.trust_host_key = locked_trust  # type: ignore[assignment]
    up = list(have)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for i in range(0, len(names), 2):
                if mem_available_gib() < reserve_gib:
                    print(f"  stopping at {len(up)} hosts: MemAvailable {mem_available_gib():.1f} GiB", flush=True)
                    break
                batch = [lab.LabHost(n, int(n.removeprefix("web")), "nginx") for n in names[i : i + 2]]
                known = lab.load_hosts()  # recorded first, so that a failed start is still stopped
                known.update({h.name: h for h in batch})
                lab.save_hosts(known)
                up += list(pool.map(lab.up_host, batch))
    finally:
        lab.trust_host_key = trust  # type: ignore[assignment]
        lab.write_inventory(lab.load_hosts().values())
    return up


def ensure_ansible() -> Path:
    exe = VENV / "bin" / "ansible-playbook"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True)
    return exe


def fix502_cmd() -> list[str]:
    # This tree's code (cwd=REPO comes first on sys.path with -c; the console script would import
    # whichever checkout is installed), run by the real interpreter, not a version-manager shim.
    return [sys.executable, "-c", "from remediations.cli import main; main()"]


class Tools:
    """The commands compared at one N, each returning a Sample."""

    def __init__(self, hosts: list[lab.LabHost], work: Path, ansible: Path | None) -> None:
        self.hosts, self.work, self.n = hosts, work, len(hosts)
        cfg = work / "ssh_config"
        cfg.write_text(f"Host *\n  UserKnownHostsFile {KNOWN_HOSTS}\n")
        inventory = lab.write_inventory(hosts, work / f"inventory-{self.n}.yml")  # exactly these hosts
        self.report = work / f"fix502-{self.n}.json"
        self.fx = [
            *fix502_cmd(),
            *("diagnose", "--group", "lab", "--inventory", str(inventory)),
            *("--forks", str(self.n), "--ssh-config", str(cfg), "--report-json", str(self.report)),
        ]
        self.ansible = ansible
        acfg = work / "ansible.cfg"
        acfg.write_text(
            "[defaults]\n"
            f"forks = {self.n}\nhost_key_checking = True\ngathering = explicit\nstdout_callback = default\n"
            "interpreter_python = /usr/bin/python3\nretry_files_enabled = False\n"
            "[ssh_connection]\npipelining = True\n"
            # No multiplexing: every run pays its handshakes, as fix502's and the floor's do.
            f"ssh_args = -o ControlMaster=no -o BatchMode=yes -o UserKnownHostsFile={KNOWN_HOSTS}\n"
        )
        self.aenv = {**os.environ, "ANSIBLE_CONFIG": str(acfg), "ANSIBLE_LOCAL_TEMP": str(work / "tmp")}

    def fix502(self, k: int) -> Sample:
        sample, code = timed(self.fx, out=self.work / f"fix502-{self.n}-{k}.log")
        # 3 = some host unreachable: a result to record (the statuses line says which), not a bench error
        if code not in (0, 3):
            raise SystemExit(f"fix502 diagnose exited {code}; see {self.work}/fix502-{self.n}-{k}.log")
        return sample

    def openssh(self, k: int) -> Sample:
        return fanout(self.hosts, lambda h: evidence_command(h.url, 400), evidence_stdin(BOUNDARY), self.work)

    def floor(self, k: int) -> Sample:
        return fanout(self.hosts, lambda h: "true", None, self.work)

    def ansible_playbook(self, k: int) -> Sample:
        assert self.ansible is not None
        cmd = [str(self.ansible), "-i", str(self.work / f"inventory-{self.n}.yml"), str(BENCH / "evidence.yml")]
        sample, code = timed(cmd, env=self.aenv, out=self.work / f"ansible-{self.n}-{k}.log")
        if code != 0:
            raise SystemExit(f"ansible-playbook exited {code}; see {self.work}/ansible-{self.n}-{k}.log")
        return sample

    def all(self) -> dict[str, Callable[[int], Sample]]:
        tools = {"fix502": self.fix502, "openssh": self.openssh, "floor": self.floor}
        if self.ansible is not None:
            tools["ansible"] = self.ansible_playbook
        return tools


def measure(hosts: list[lab.LabHost], runs: int, work: Path, ansible: Path | None) -> Point:
    tools = Tools(hosts, work, ansible)
    for run in tools.all().values():  # warm-up (page cache, pyc files, sshd's first fork) — not counted
        run(-1)
    samples: dict[str, list[Sample]] = {name: [] for name in tools.all()}
    for k in range(runs):
        for name, run in tools.all().items():
            samples[name].append(run(k))
        line = "  ".join(f"{name} {s[-1].wall:.2f}s/{s[-1].cpu:.2f}cpu" for name, s in samples.items())
        print(f"  N={len(hosts)} run {k + 1}: {line}", flush=True)
    report = list(json.loads(tools.report.read_text())["hosts"].values())  # the last measured run
    if len(report) != len(hosts):
        raise SystemExit(f"fix502 diagnosed {len(report)} hosts, not {len(hosts)}")
    return Point(
        n=len(hosts),
        runs=runs,
        samples=samples,
        conns=sorted({h["ssh_connections"] for h in report}),
        trips=sorted({h["round_trips"] for h in report}),
        statuses=[f"{st}={sum(h['status'] == st for h in report)}" for st in sorted({h["status"] for h in report})],
        mem_available_gib=round(mem_available_gib(), 1),
        measured=time.strftime("%Y-%m-%d %H:%M %Z"),
        command="python bench/run.py " + " ".join(sys.argv[1:]),
    )


def load_points(path: Path) -> dict[int, Point]:
    if not path.exists():
        return {}
    points = {}
    for raw in json.loads(path.read_text()):
        raw["samples"] = {k: [Sample(**s) for s in v] for k, v in raw["samples"].items()}
        points[raw["n"]] = Point(**raw)
    return points


def med(point: Point, tool: str, what: str) -> float:
    return statistics.median(getattr(s, what) for s in point.samples[tool])


LABELS = {
    "fix502": "`fix502 diagnose`",
    "openssh": "OpenSSH fan-out (evidence)",
    "floor": "floor `ssh true`",
    "ansible": "`ansible-playbook`",
}


def table(points: dict[int, Point]) -> list[str]:
    """Per-host figures at every N, and each one's growth against the smallest N."""
    ns = sorted(points)
    base = points[ns[0]]
    rows = [
        "| N | tool | wall (s) | wall/floor | wall per host (ms) | CPU per host (ms) | CPU growth "
        "vs N=" + str(base.n) + " | CPU vs OpenSSH fan-out | peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in ns:
        p = points[n]
        for tool in (t for t in LABELS if t in p.samples):
            wall, cpu = med(p, tool, "wall"), med(p, tool, "cpu")
            growth = (cpu / n) / (med(base, tool, "cpu") / base.n) if tool in base.samples else float("nan")
            rows.append(
                f"| {n} | {LABELS[tool]} | {wall:.2f} | {wall / med(p, 'floor', 'wall'):.2f}× | "
                f"{1000 * wall / n:.0f} | {1000 * cpu / n:.1f} | {growth:.2f}× | "
                f"{cpu / med(p, 'openssh', 'cpu'):.2f}× | {med(p, tool, 'rss_kib') / 1024:.0f} |"
            )
    return rows


def verdict(points: dict[int, Point]) -> list[str]:
    ns = sorted(points)
    cpu = {n: med(points[n], "fix502", "cpu") / med(points[n], "openssh", "cpu") for n in ns}
    wall = {n: med(points[n], "fix502", "wall") / med(points[n], "floor", "wall") for n in ns}
    per_host = {n: 1000 * med(points[n], "fix502", "cpu") / n for n in ns}
    lines = [
        "- controller CPU per host, fix502 / OpenSSH fan-out (target ≤ 1.5×): "
        + ", ".join(f"N={n} **{r:.2f}×**{'' if r <= 1.5 else ' (not met)'}" for n, r in cpu.items()),
        "- fix502 CPU per host (target: flat): "
        + ", ".join(f"N={n} {v:.1f} ms" for n, v in per_host.items())
        + f" — {per_host[ns[-1]] / per_host[ns[0]]:.2f}× from N={ns[0]} to N={ns[-1]}",
        "- wall, fix502 / floor (target ≤ 1.3× at every N): "
        + ", ".join(f"N={n} **{r:.2f}×**{'' if r <= 1.3 else ' (not met)'}" for n, r in wall.items()),
    ]
    for n in ns:
        p = points[n]
        lines.append(
            f"- N={n}: {p.runs} run(s) measured {p.measured}; fix502 SSH connections per host {p.conns}, "
            f"round trips per host {p.trips}, host statuses {p.statuses}; MemAvailable after: "
            f"{p.mem_available_gib} GiB"
        )
    return lines


def write_results(points: dict[int, Point], path: Path) -> str:
    commands = ", ".join(dict.fromkeys(f"`{p.command}`" for p in points.values() if p.command)) or "bench/run.py"
    text = "\n".join(
        [
            f"# fix502 on one controller — scaling from N={min(points)} to N={max(points)} lab hosts",
            "",
            f"{os.cpu_count()} CPU(s), {os.uname().sysname} {os.uname().release}; lab hosts = real sshd + nginx "
            "+ PHP-FPM 8.2 + WordPress in their own namespaces on loopback, sharing the controller's CPUs; "
            f"medians over the runs ({commands}). CPU = user+sys of the tool's own processes (os.wait4).",
            "",
            *table(points),
            "",
            *verdict(points),
        ]
    )
    path.write_text(text + "\n")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", default="20,50,100,200", help="fleet sizes, ascending (at most 200)")
    ap.add_argument("--runs", default="3", help="runs per size: one number, or one per size")
    ap.add_argument("--ansible", action="store_true", help="also time ansible-playbook (slow)")
    ap.add_argument("--keep", action="store_true", help="leave the bench lab running")
    ap.add_argument("--mem-reserve-gib", type=float, default=4.0, help="stop growing the lab below this")
    ap.add_argument("--data", default=str(BENCH / "scaling.json"), help="figures per N (merged across runs)")
    ap.add_argument("--results", default=str(BENCH / "RESULTS-scaling.md"))
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.hosts.split(","))
    runs = [int(x) for x in args.runs.split(",")]
    runs = runs * len(sizes) if len(runs) == 1 else runs
    if len(runs) != len(sizes) or sizes[0] < 1 or sizes[-1] > 200:
        raise SystemExit("--hosts: sizes 1..200; --runs: one number or one per size")

    # `timeout` (or an operator) stopping the bench must still stop its hosts: SIGTERM runs the finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ansible = ensure_ansible() if args.ansible else None
    work = Path(tempfile.mkdtemp(prefix="fix502-bench-"))
    data = Path(args.data)
    points = load_points(data)
    # Byte-compile fix502 as an installed package is (an editable install might recompile per run).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "remediations")], check=True)
    hosts: list[lab.LabHost] = []
    try:
        if lab.load_hosts():  # left by a bench that was killed: start from none, or N would be wrong
            tear_down()
        for n, k in zip(sizes, runs, strict=True):
            t0 = time.perf_counter()
            hosts = bring_up(n, hosts, args.mem_reserve_gib)
            print(f"{len(hosts)} hosts up (+{time.perf_counter() - t0:.0f}s)", flush=True)
            if len(hosts) < n:
                print(f"asked for {n} hosts, got {len(hosts)}: measuring those, then stopping", flush=True)
            points[len(hosts)] = measure(hosts, k, work, ansible)
            data.write_text(json.dumps([asdict(p) for p in sorted(points.values(), key=lambda p: p.n)], indent=1))
            if len(hosts) < n:
                break
    finally:
        if not args.keep:
            t0 = time.perf_counter()
            tear_down()
            shutil.rmtree(work / "tmp", ignore_errors=True)
            print(f"bench lab down ({time.perf_counter() - t0:.0f}s)", flush=True)
    if points:
        print("\n" + write_results(points, Path(args.results)))
        print(f"\nwritten: {args.results}, {data}; logs in {work}")


if __name__ == "__main__":
    main()
