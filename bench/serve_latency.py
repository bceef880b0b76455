"""Alert-to-verified-fix latency of `fix502 serve` behind the real Prometheus Alertmanager.

Each run: a lab host gets a real fault (PHP-FPM stopped, the site answers 502), an alert for it is
posted to Alertmanager's API v2, Alertmanager routes it to `fix502 serve` (fix mode), and the clock
stops when the run's outcome is `fixed` (restart-fpm applied and its probe verified) and the site
answers 200.  Printed per run and as medians: Alertmanager's delivery (alert posted → run queued,
bounded below by its group_wait of 1 s), the run itself (worker start → outcome) and the total.

    flock /tmp/fix502-lab.lock python bench/serve_latency.py --runs 5 --host web30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.serve_harness import TOKEN, Alertmanager, Serve, Sink, free_port, wait_for, write_inventory
from tests.lab import faults, lab


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def one_run(serve: Serve, am: Alertmanager, name: str, i: int) -> tuple[float, float, float]:
    h = lab.reset(name)
    faults.apply(h, "fpm-stopped")
    assert h.http("/")[0] == 502, "the fault did not take"
    before = {r["run_id"] for r in serve.runs(name)}
    t0_wall, t0 = time.time(), time.monotonic()
    am.fire(name, alertname=f"BenchWordPress5xx{i}")

    def fixed() -> dict[str, object] | None:
        new = [r for r in serve.runs(name) if r["run_id"] not in before]
        return serve.run(new[0]["run_id"]) if new and new[0]["state"] == "done" else None

    run = wait_for("the fix", fixed, timeout=300, every=0.05)
    total = time.monotonic() - t0
    if run["outcome"] != "fixed" or h.http("/")[0] != 200:
        raise SystemExit(f"run {run['run_id']}: outcome {run['outcome']}, not fixed")
    delivery = _ts(str(run["created"])) - t0_wall
    work = _ts(str(run["finished"])) - _ts(str(run["started"]))
    return delivery, work, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--host", default="web30")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fix502-bench-serve-"))
    existing = lab.load_hosts().get(args.host)
    if existing is None or existing.init_pid is None:
        lab.up(names=[args.host])
    write_inventory(tmp / "inv.yml", {args.host: "fix"})
    (tmp / "token").write_text(TOKEN + "\n")
    os.chmod(tmp / "token", 0o600)
    sink = Sink()
    serve = Serve(tmp, free_port(), sink)
    am = Alertmanager(tmp, f"{serve.url}/alertmanager", tmp / "token")
    serve.start(tmp / "state", "--cooldown", "0")
    rows = []
    try:
        for i in range(args.runs):
            rows.append(one_run(serve, am, args.host, i))
            d, w, t = rows[-1]
            print(f"run {i + 1}: alertmanager->queued {d:5.2f} s   run {w:5.2f} s   alert->verified fix {t:5.2f} s")
    finally:
        serve.stop()
        am.stop()
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(
        f"median of {len(rows)}: alert->verified fix {med[2]:.2f} s "
        f"(alertmanager delivery {med[0]:.2f} s, run {med[1]:.2f} s)"
    )


if __name__ == "__main__":
    main()
