"""`fix502 serve` behind the real Prometheus Alertmanager (issue 13), on real lab hosts web30..web35.

Alertmanager (Debian's prometheus-alertmanager, started here on 127.0.0.1 with its own config and
storage, clustering off) routes alerts posted to its API v2 to `fix502 serve` (a real process) with
a bearer token; a local HTTP sink receives the notifications.  Alertmanager's timers are short
(group_wait 1s, group_interval 1s, repeat_interval 5s), so its repeats arrive during each test and
the dedupe is exercised by the real sender, not a replay.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, host, snapshot
from tests.integration.serve_harness import (
    AM_BIN,
    TOKEN,
    Alertmanager,
    Serve,
    Sink,
    free_port,
    wait_for,
    write_inventory,
)
from tests.lab import faults, lab

MODES = {"web30": "fix", "web31": "approve", "web32": "fix", "web33": "fix", "web34": "fix", "web35": "fix"}

pytestmark = pytest.mark.skipif(not Path(AM_BIN).exists(), reason="prometheus-alertmanager is not installed")


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("serve")
    for name in MODES:
        host(name)
    write_inventory(tmp / "inv.yml", MODES)
    (tmp / "token").write_text(TOKEN + "\n")
    os.chmod(tmp / "token", 0o600)
    sink = Sink()
    serve = Serve(tmp, free_port(), sink)
    try:
        yield {"tmp": tmp, "sink": sink, "serve": serve}
    finally:
        serve.stop()


@pytest.fixture
def env(lab_env: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A fresh Alertmanager per test: a still-firing alert of one test must not be re-sent into
    the next test's server (each test has its own --state, so it would be new there)."""
    tmp = lab_env["tmp"] / request.node.name[:40]
    tmp.mkdir()
    am = Alertmanager(tmp, f"{lab_env['serve'].url}/alertmanager", lab_env["tmp"] / "token")
    try:
        yield {**lab_env, "fire": am.fire}
    finally:
        am.stop()


def test_fix_mode_fixes_verifies_dedupes_repeats_and_cools_down(env: dict[str, Any]) -> None:
    serve, sink = env["serve"], env["sink"]
    serve.start(env["tmp"] / "state-fix", "--cooldown", "600")
    try:
        h = lab.get("web30")
        faults.apply(h, "fpm-stopped")
        assert h.http("/")[0] == 502
        env["fire"]("web30")
        run = serve.finished_run("web30")
        assert run["outcome"] == "fixed", run
        assert run["mode"] == "fix" and "fpm-down" in run["causes"]
        assert any(e["cause"] == "fpm-down" for e in run["evidence"])
        acted = {a["id"]: a for a in run["actions"]}
        assert acted["restart-fpm"]["changed"] and acted["restart-fpm"]["verified"]
        assert run["alert"]["labels"]["fix502_host"] == "web30"
        status, body = h.http("/")
        assert status == 200 and 'content="WordPress' in body
        # Alertmanager re-sends the firing group every 5s: deduplicated, nothing new runs.
        wait_for("a deduplicated repeat", lambda: serve.metric("fix502_alerts_deduped_total") >= 1, timeout=30)
        # a second, different alert for the same host inside the cooldown starts nothing
        env["fire"]("web30", alertname="WordPressDown")
        wait_for("the cooldown decision", lambda: serve.metric('fix502_alerts_decided_total{decision="cooldown"}'))
        assert [r["run_id"] for r in serve.runs("web30")] == [run["run_id"]]
        # the notifications: JSON summary and the Slack-shaped message, each with the evidence
        js = wait_for("json notification", lambda: sink.of("/json", run["run_id"]), timeout=15)[-1]
        assert js["host"] == "web30" and js["outcome"] == "fixed" and "fpm-down" in js["causes"]
        assert js["changed"][0]["fix"] == "restart-fpm" and js["changed"][0]["verified"]
        assert js["evidence"][0]["line"] and js["link"].endswith("/runs/" + run["run_id"])
        slack = wait_for("slack notification", lambda: sink.of("/slack", run["run_id"]), timeout=15)[-1]
        assert set(slack) == {"text"}
        assert "*fixed*" in slack["text"] and "restart-fpm (verified)" in slack["text"]
        assert "evidence (" in slack["text"] and f"/runs/{run['run_id']}|run" in slack["text"]
        assert serve.metric('fix502_runs_total{mode="fix",outcome="fixed"}') == 1
        assert serve.metric("fix502_run_duration_seconds_count") == 1
    finally:
        serve.stop()


def test_unauthenticated_and_unknown_host_posts_are_refused(env: dict[str, Any]) -> None:
    serve = env["serve"]
    serve.start(env["tmp"] / "state-auth")
    try:
        alert = {"status": "firing", "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "aa01"}
        alert["labels"] = {"alertname": "X", "instance": "web32:9100"}
        payload = {"version": "4", "status": "firing", "alerts": [alert]}
        for auth in (None, "Bearer wrong-token-wrong-token", "Basic " + base64.b64encode(b"am:nope").decode()):
            status, _ = serve.request("POST", "/alertmanager", payload, auth=auth)
            assert status == 401, auth
        assert serve.get("/runs", auth=False)[0] == 401
        assert serve.get("/runs")[1]["runs"] == []
        assert serve.metric('fix502_alerts_refused_total{reason="unauthorised"}') == 4
        # basic auth with the token as password is accepted (Alertmanager's basic_auth)
        status, body = serve.request("POST", "/alertmanager", payload, auth="basic")
        assert status == 202 and body["decisions"][0]["decision"] == "queued"
        assert body["decisions"][0]["host"] == "web32"
        unknown = json.loads(json.dumps(payload))
        unknown["alerts"][0].update(labels={"alertname": "X", "instance": "db9:9100"}, fingerprint="aa02")
        status, body = serve.request("POST", "/alertmanager", unknown)
        assert status == 202 and body["decisions"][0]["decision"] == "refused"
        assert "db9" in body["decisions"][0]["reason"]
        assert serve.metric('fix502_alerts_refused_total{reason="unknown-host"}') == 1
        assert len(serve.get("/runs")[1]["runs"]) == 1
        serve.finished_run("web32")
    finally:
        serve.stop()


def test_approve_mode_changes_nothing_until_approved(env: dict[str, Any]) -> None:
    serve = env["serve"]
    serve.start(env["tmp"] / "state-approve")
    try:
        h = lab.get("web31")
        faults.apply(h, "fpm-stopped")
        before = snapshot(h)
        env["fire"]("web31")
        run = serve.finished_run("web31")
        assert run["state"] == "awaiting-approval" and run["outcome"] == "planned", run
        assert run["plan"][0]["id"] == "restart-fpm" and run["plan"][0]["plan"]
        time.sleep(6)  # a repeat notification arrives meanwhile; still nothing changes
        assert snapshot(h) == before and h.http("/")[0] == 502
        assert not h.fpm_pids()
        assert len(serve.runs("web31")) == 1
        status, _ = serve.request("POST", f"/runs/{run['run_id']}/approve", auth=None)
        assert status == 401 and h.http("/")[0] == 502
        status, body = serve.request("POST", f"/runs/{run['run_id']}/approve")
        assert status == 202 and body["state"] == "approved"
        done = wait_for("the approved run", lambda: (r := serve.run(run["run_id"]))["state"] == "done" and r)
        assert done["outcome"] == "fixed", done
        assert h.http("/")[0] == 200
        status, body = serve.request("POST", f"/runs/{run['run_id']}/approve")
        assert status == 409
    finally:
        serve.stop()


def test_breaker_trips_on_a_burst_and_only_a_person_resets_it(env: dict[str, Any]) -> None:
    """Three broken hosts alert at once with --max-hosts 2: the third alert opens the breaker; from
    then on no run changes anything (runs that had not started yet included) until a reset."""
    serve = env["serve"]
    state = env["tmp"] / "state-breaker"
    burst = ("web32", "web33", "web34")
    for n in burst:
        host(n)
        faults.apply(lab.get(n), "fpm-stopped")
    serve.start(state, "--max-hosts", "2", "--window", "600")
    try:
        before = {n: snapshot(lab.get(n)) for n in burst}
        for name in burst:
            env["fire"](name, alertname="Burst")
        runs = [serve.finished_run(n) for n in burst]
        assert serve.metric("fix502_breaker_open") == 1
        assert serve.get("/breaker")[1]["open"] is True
        assert [r["mode"] for r in runs].count("diagnose") == 1, runs  # the alert that opened it
        escalated = [r for r in runs if r["outcome"] == "escalated"]
        assert escalated, runs
        for r in escalated:  # diagnosed only: the host is left as it was, still broken
            assert "breaker" in r["note"] and r["actions"] == [] and "fpm-down" in r["causes"]
            assert snapshot(lab.get(r["host"])) == before[r["host"]] and lab.get(r["host"]).http("/")[0] == 502
        for r in runs:  # the others had started before the breaker opened
            assert r in escalated or r["outcome"] == "fixed", r
        assert serve.request("POST", "/breaker/reset", auth=None)[0] == 401
        assert serve.metric("fix502_breaker_open") == 1
        res = subprocess.run(
            [sys.executable, "-m", "invoke", "breaker-reset", "--state", str(state)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 0 and "breaker closed" in res.stdout, res.stdout + res.stderr
        assert serve.metric("fix502_breaker_open") == 0
        env["fire"]("web35", alertname="Burst")
        after = serve.finished_run("web35")
        assert after["mode"] == "fix" and after["outcome"] == "healthy"
    finally:
        serve.stop()


def test_restart_mid_queue_loses_nothing_and_runs_nothing_twice(env: dict[str, Any]) -> None:
    serve = env["serve"]
    state = env["tmp"] / "state-restart"
    names = ("web34", "web35")
    for n in names:
        host(n)
        faults.apply(lab.get(n), "fpm-stopped")
    serve.start(state, "--workers", "1")
    try:
        for n in names:
            env["fire"](n, alertname="Restart")
        wait_for("both alerts queued", lambda: all(serve.runs(n) for n in names), timeout=30, every=0.1)
        wait_for("a run in progress", lambda: any(serve.runs(n)[0]["state"] == "running" for n in names), every=0.1)
    finally:
        serve.stop()  # SIGTERM: the running run finishes, the queued one stays queued
    states = {n: serve_runs_offline(state, n) for n in names}
    assert sorted(s for rows in states.values() for s in rows) == ["done", "queued"], states
    serve.start(state, "--workers", "1")
    try:
        runs = {
            n: wait_for(f"{n} done", lambda n=n: (r := serve.runs(n)) and r[0]["state"] == "done" and r) for n in names
        }
        time.sleep(6)  # Alertmanager's repeats during and after the restart are deduplicated
        for n in names:
            assert len(serve.runs(n)) == 1, serve.runs(n)
            assert runs[n][0]["outcome"] == "fixed"
            assert lab.get(n).http("/")[0] == 200
            backups = sorted(p.name for p in lab.get(n).path("/var/backups/fix502").iterdir() if p.is_dir())
            assert backups == [runs[n][0]["run_id"]], backups  # one journaled run on the host
        assert serve.metric("fix502_alerts_deduped_total") >= 1
    finally:
        serve.stop()


def serve_runs_offline(state: Path, name: str) -> list[str]:
    db = sqlite3.connect(state / "fix502-serve.sqlite3")
    try:
        return [r[0] for r in db.execute("SELECT state FROM runs WHERE host = ?", (name,))]
    finally:
        db.close()


def test_an_approved_plan_that_no_longer_matches_the_host_is_refused(env: dict[str, Any]) -> None:
    """Approval is for the plan a person read: if the host changed meanwhile, the re-diagnosed
    plan differs and the approved run declines it and escalates, changing nothing."""
    serve = env["serve"]
    serve.start(env["tmp"] / "state-stale-plan")
    try:
        h = host("web31")
        faults.apply(h, "old-php-socket")
        env["fire"]("web31", alertname="StalePlan")
        run = serve.finished_run("web31")
        assert run["outcome"] == "planned" and run["plan"][0]["id"] == "realign-fastcgi-pass", run
        assert "php8.1-fpm.sock" in run["plan"][0]["plan"]
        # someone else edits the same line before the approval comes in
        faults.edit(h, faults.NGINX_SITE, lambda t: t.replace("/run/php/php8.1-fpm.sock", "/run/php/php8.0-fpm.sock"))
        faults.reload_web(h)
        assert h.http("/")[0] == 502
        before = snapshot(h)
        assert serve.request("POST", f"/runs/{run['run_id']}/approve")[0] == 202
        done = wait_for("the approved run", lambda: (r := serve.run(run["run_id"]))["state"] == "done" and r)
        assert done["outcome"] == "escalated", done
        assert "declined (plan differs from the approved one): realign-fastcgi-pass" in done["note"]
        assert all(not a["changed"] for a in done["actions"]), done["actions"]
        assert snapshot(h) == before and h.http("/")[0] == 502
    finally:
        serve.stop()


def test_the_on_host_lock_keeps_a_cli_run_and_a_server_run_apart(env: dict[str, Any]) -> None:
    """A `fix502 fix-502` from a person holds /run/fix502.lock on the host: the server's run
    does not go past it (failed, the holder named) and changes nothing."""
    serve = env["serve"]
    serve.start(env["tmp"] / "state-lock")
    h = host("web33")
    faults.apply(h, "fpm-stopped")
    lock = h.path("/run/fix502.lock")  # as take_lock writes it
    lock.mkdir(mode=0o700)
    (lock / "owner").write_text(json.dumps({"run_id": "cli-run-1", "controller": "oncall", "pid": 1}))
    try:
        before = snapshot(h)
        env["fire"]("web33", alertname="Locked")
        run = serve.finished_run("web33")
        assert run["outcome"] == "failed" and "cli-run-1" in run["error"] and "locked" in run["error"], run
        assert snapshot(h) == before and h.http("/")[0] == 502
        assert h.path("/run/fix502.lock/owner").read_text().startswith('{"run_id": "cli-run-1"')
    finally:
        shutil.rmtree(lock, ignore_errors=True)
        serve.stop()
