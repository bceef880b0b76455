"""Fleet diagnosis speed: fix502 vs ansible-playbook vs a bare SSH fan-out, on real lab hosts.

    python bench/run.py [--hosts N] [--runs K] [--keep]

Brings up N lab hosts (web101.., in their own FIX502_LAB_DIR=/var/lib/fix502-bench so no other
lab is disturbed), then, K times each, interleaved so drift hits all three alike:

* ``fix502 diagnose --group lab`` (the console script) — the product;
* ``ansible-playbook bench/evidence.yml`` — ansible-core from PyPI in bench/.venv, forks=N,
  pipelining on, no fact gathering, the same evidence.sh with the same arguments;
* ``ssh -o BatchMode=yes host true`` to every host at once — the floor: one SSH handshake each.

SSH connections per host: fix502's own count (``ssh_connections`` in its JSON report, incremented
on every successful handshake); for Ansible, one extra ``-vvv`` run with ControlMaster off, counting
the ``SSH: EXEC ssh`` lines per host (each is one ssh process = one TCP connection + handshake).
Peak RSS: ``os.wait4`` on the process itself (ru_maxrss of that child, not of this script).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LAB_DIR = "/var/lib/fix502-bench"
os.environ["FIX502_LAB_DIR"] = LAB_DIR  # before tests.lab.lab reads it
sys.path.insert(0, str(REPO))

from tests.lab import lab  # noqa: E402

VENV = BENCH / ".venv"


def ensure_ansible() -> Path:
    exe = VENV / "bin" / "ansible-playbook"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True)
    return exe


def fix502_cmd() -> list[str]:
    # The script next to this interpreter, not a version-manager shim (a pyenv shim adds ~0.2 s of bash).
    exe = Path(sys.executable).parent / "fix502"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from remediations.cli import main; main()"]


def timed(cmd: list[str], *, env: dict[str, str] | None = None, out: Path | None = None) -> tuple[float, int, int]:
    """Wall seconds, exit status and the process's own peak RSS in KiB."""
    sink = open(out, "w") if out else subprocess.DEVNULL  # noqa: SIM115 - closed below
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if out:
        sink.close()  # type: ignore[union-attr]
    return wall, proc.returncode, usage.ru_maxrss


def floor(hosts: list[lab.LabHost]) -> float:
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ControlMaster=no",
                "-i",
                str(lab.KEY),
                f"root@{h.addr}",
                "true",
            ],
            stdin=subprocess.DEVNULL,
        )
        for h in hosts
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"floor: ssh failed on some host: {codes}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the bench lab running")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    args = ap.parse_args()
    n = args.hosts

    ansible = ensure_ansible()
    work = Path(tempfile.mkdtemp(prefix="fix502-bench-"))
    names = [f"web{100 + i}" for i in range(1, n + 1)]
    print(f"bringing up {n} lab hosts in {LAB_DIR} ...", flush=True)
    t0 = time.perf_counter()
    try:
        hosts = lab.up(names=names)
        print(f"  up in {time.perf_counter() - t0:.1f}s", flush=True)
        inv = str(lab.inventory_path())
        cfg = work / "ansible.cfg"
        cfg.write_text(
            "[defaults]\n"
            f"forks = {n}\nhost_key_checking = True\ngathering = explicit\nstdout_callback = default\n"
            "interpreter_python = /usr/bin/python3\nretry_files_enabled = False\n"
            "[ssh_connection]\npipelining = True\n"
            # No multiplexing: every run pays its handshakes, as fix502's and the floor's do.
            "ssh_args = -o ControlMaster=no -o BatchMode=yes\n"
        )
        aenv = {**os.environ, "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_LOCAL_TEMP": str(work / "tmp")}
        fx_cmd = [
            *fix502_cmd(),
            "diagnose",
            "--group",
            "lab",
            "--inventory",
            inv,
            "--forks",
            str(n),
            "--report-json",
            str(work / "fix502.json"),
        ]
        an_cmd = [str(ansible), "-i", inv, str(BENCH / "evidence.yml")]

        # Byte-compile both tools as an installed package is (pip compiles on install; an editable
        # install under PYTHONDONTWRITEBYTECODE=1 would recompile fix502 on every run).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "remediations")], check=True)
        # warm-up (page cache, pyc files) — not counted
        timed(fx_cmd)
        timed(an_cmd, env=aenv)
        floor(hosts)

        fx: list[float] = []
        an: list[float] = []
        fl: list[float] = []
        rss: list[int] = []
        for k in range(args.runs):
            w, code, peak = timed(fx_cmd, out=work / f"fix502-{k}.log")
            if code != 0:
                raise SystemExit(f"fix502 diagnose exited {code}; see {work}/fix502-{k}.log")
            fx.append(w)
            rss.append(peak)
            w, code, _ = timed(an_cmd, env=aenv, out=work / f"ansible-{k}.log")
            if code != 0:
                raise SystemExit(f"ansible-playbook exited {code}; see {work}/ansible-{k}.log")
            an.append(w)
            fl.append(floor(hosts))
            print(f"  run {k + 1}: fix502 {fx[-1]:.2f}s  ansible {an[-1]:.2f}s  floor {fl[-1]:.2f}s", flush=True)

        report = json.loads((work / "fix502.json").read_text())
        conns = sorted({h["ssh_connections"] for h in report["hosts"].values()})
        trips = sorted({h["round_trips"] for h in report["hosts"].values()})
        statuses = sorted({h["status"] for h in report["hosts"].values()})
        vlog = work / "ansible-vvv.log"
        timed([*an_cmd, "-vvv"], env=aenv, out=vlog)
        per_host: dict[str, int] = {}
        for line in vlog.read_text(errors="replace").splitlines():
            m = re.match(r"<(127\.0\.0\.\d+)> SSH: EXEC ssh ", line)
            if m:
                per_host[m.group(1)] = per_host.get(m.group(1), 0) + 1
        a_conns = sorted(set(per_host.values()))

        mf, ma, mfl = statistics.median(fx), statistics.median(an), statistics.median(fl)
        lines = [
            f"# fix502 fleet benchmark — {n} hosts, median of {args.runs} runs",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} CPU(s), "
            f"{os.uname().sysname} {os.uname().release}; lab hosts = real sshd + nginx + PHP-FPM 8.2 "
            "+ WordPress "
            "in their own namespaces on loopback (`python bench/run.py "
            f"--hosts {n} --runs {args.runs}`).",
            "",
            "| what | median wall (s) | all runs (s) |",
            "|---|---|---|",
            f"| `fix502 diagnose --group lab` | {mf:.2f} | {', '.join(f'{x:.2f}' for x in fx)} |",
            f"| `ansible-playbook bench/evidence.yml` (forks={n}, pipelining) | {ma:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in an)} |",
            f"| floor: parallel `ssh host true` | {mfl:.2f} | {', '.join(f'{x:.2f}' for x in fl)} |",
            "",
            f"- ansible-playbook / fix502: **{ma / mf:.1f}×** (target ≥ 5×)",
            f"- fix502 / floor: **{mf / mfl:.2f}×** (target ≤ 1.5×)",
            f"- ansible-playbook / floor: {ma / mfl:.1f}× — the most any tool that opens one SSH connection "
            "per host could be faster than ansible-playbook here: the hosts share the controller's "
            f"{os.cpu_count()} CPU(s), so sshd's own per-connection work bounds every tool alike",
            f"- SSH connections per host: fix502 {conns} (its report's `ssh_connections`); "
            f"ansible-playbook {a_conns} (`-vvv` `SSH: EXEC ssh` lines per host, ControlMaster off)",
            f"- command round trips per host: fix502 {trips} (its report's `round_trips`; a second one only "
            "for an unhealthy site, to read WordPress's active plugins)",
            f"- fix502 controller peak RSS: {max(rss) / 1024:.0f} MiB (ru_maxrss of the fix502 process, via os.wait4)",
            f"- host statuses in fix502's report: {statuses}",
        ]
        text = "\n".join(lines) + "\n"
        print("\n" + text)
        Path(args.results).write_text(text)
        print(f"written: {args.results}; logs in {work}")
    finally:
        if not args.keep:
            lab.down()


if __name__ == "__main__":
    main()
