"""`fix502 serve` without hosts: the policy (host mapping, dedupe, cooldown, breaker, modes), the
SQLite store across a restart, the HTTP app (auth, limits) and the notifications, on the webhook
bodies a real Alertmanager sent (tests/unit/fixtures/alertmanager/webhook-v4.json)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from remediations.errors import InputError, OptionError
from remediations.inventory import Inventory, load_inventory
from remediations.serve.app import Server, make_app
from remediations.serve.metrics import Metrics
from remediations.serve.notify import Target, slack_message, summary
from remediations.serve.policy import Settings, alert_host, check_modes, check_payload, decide, strip_port
from remediations.serve.store import AWAITING, DONE, RUNNING, Store
from remediations.serve.tasks import parse_listen, read_token

FIXTURE = Path(__file__).parent / "fixtures" / "alertmanager" / "webhook-v4.json"
BODIES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["bodies"]
TOKEN = "unit-test-token-0123456789"
REPO = Path(__file__).resolve().parents[2]

INVENTORY = """all:
  children:
    web:
      vars: {fix502_mode: fix}
      hosts:
        web1: {ansible_host: 10.0.0.5}
        web2: {ansible_host: 10.0.0.6, fix502_mode: diagnose}
        web3: {ansible_host: 10.0.0.7}
    other:
      hosts:
        db1: {ansible_host: 10.0.0.9}
        db2: {ansible_host: 10.0.0.9}
"""


@pytest.fixture
def inv(tmp_path: Path) -> Inventory:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    return load_inventory(str(tmp_path / "inv.yml"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state")


def firing(labels: dict[str, str], fp: str, starts: str = "2026-12-01T09:50:00Z") -> dict[str, Any]:
    return {"status": "firing", "labels": labels, "startsAt": starts, "fingerprint": fp}


def test_the_captured_bodies_are_version_4_and_map_to_hosts(inv: Inventory) -> None:
    for body in BODIES:
        assert check_payload(body) == body["alerts"]
    by_label = {a["fingerprint"]: alert_host(a["labels"], inv) for b in BODIES for a in b["alerts"]}
    assert by_label["fde08687aff4f581"][0].name == "web1"  # labels.fix502_host
    h, why = by_label["e485a8819f79d0ea"]  # only labels.instance=10.0.0.6:9113 → ansible_host
    assert h is not None and h.name == "web2" and "ansible_host" in why


def test_host_labels_are_never_guessed(inv: Inventory) -> None:
    # fix502_host names an unknown host: refused, even though instance would match web1
    h, why = alert_host({"fix502_host": "web9", "instance": "10.0.0.5:9100"}, inv)
    assert h is None and "fix502_host=web9" in why
    h, why = alert_host({"instance": "10.0.0.9:9100"}, inv)  # two hosts share the address
    assert h is None and "db1, db2" in why
    assert alert_host({"alertname": "X"}, inv)[0] is None
    assert alert_host({"host": "web3"}, inv)[0].name == "web3"  # type: ignore[union-attr]


PORTS = [
    ("web1:9100", "web1"),
    ("10.0.0.5:9113", "10.0.0.5"),
    ("[2001:db8::1]:9100", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"),
    ("web1", "web1"),
]


@pytest.mark.parametrize(("instance", "host"), PORTS)
def test_strip_port(instance: str, host: str) -> None:
    assert strip_port(instance) == host


def test_repeats_of_the_captured_alert_are_deduplicated(store: Store, inv: Inventory) -> None:
    s = Settings()
    first = [decide(store, inv, s, a)[0] for a in BODIES[1]["alerts"]]
    assert [d.decision for d in first] == ["queued"] and first[0].mode == "fix"
    repeat = [decide(store, inv, s, a)[0] for a in BODIES[3]["alerts"]]  # Alertmanager's repeat
    assert [d.decision for d in repeat] == ["duplicate"] and repeat[0].run_id == first[0].run_id
    assert len(store.runs()) == 1


def test_one_run_per_host_then_the_cooldown(store: Store, inv: Inventory) -> None:
    s = Settings(cooldown=600)
    d1, _ = decide(store, inv, s, firing({"fix502_host": "web1"}, "a1"))
    d2, _ = decide(store, inv, s, firing({"fix502_host": "web1", "alertname": "Other"}, "a2"))
    assert d2.decision == "in-progress" and d2.run_id == d1.run_id
    run = store.claim()
    assert run is not None and run.run_id == d1.run_id
    store.finish(run.run_id, state=DONE, outcome="fixed", report=None)
    d3, _ = decide(store, inv, s, firing({"fix502_host": "web1"}, "a3"))
    assert d3.decision == "cooldown" and d3.outcome == "fixed" and d3.run_id == d1.run_id
    d4, _ = decide(store, inv, Settings(cooldown=0), firing({"fix502_host": "web1"}, "a4"))
    assert d4.decision == "queued" and d4.run_id != d1.run_id


def test_the_breaker_opens_on_a_burst_and_stays_open_until_reset(store: Store, inv: Inventory) -> None:
    s = Settings(max_hosts=2, window=600)
    out = [decide(store, inv, s, firing({"fix502_host": n}, f"b{n}")) for n in ("web1", "web2", "web3")]
    assert [t for _, t in out] == [False, False, True]
    assert out[2][0].mode == "diagnose" and "breaker" in (out[2][0].reason or "")
    assert store.breaker()[0]
    d, tripped = decide(store, inv, s, firing({"fix502_host": "web1"}, "late", starts="2026-12-01T10:00:00Z"))
    assert d.decision == "in-progress" and not tripped  # web1's run is still queued
    assert store.reset_breaker("test") and not store.breaker()[0]
    # after the reset only new alerts count: the next one runs in its configured mode
    store.db.execute("UPDATE runs SET state = 'done', finished = 0")
    d, tripped = decide(store, inv, Settings(max_hosts=2, cooldown=0), firing({"fix502_host": "web3"}, "c3"))
    assert d.decision == "queued" and d.mode == "fix" and not tripped


def test_refused_and_resolved_alerts_queue_nothing(store: Store, inv: Inventory) -> None:
    d, _ = decide(store, inv, Settings(), firing({"instance": "192.0.2.1:9100"}, "z1"))
    assert d.decision == "refused" and "192.0.2.1" in (d.reason or "")
    resolved = dict(firing({"fix502_host": "web1"}, "z2"), status="resolved")
    assert decide(store, inv, Settings(), resolved)[0].decision == "resolved"
    assert store.runs() == []
    assert {e["event"] for e in store.audit_log()} == {"alert-refused", "alert-not-firing"}


def test_a_restart_keeps_the_queue_and_never_reruns_an_interrupted_run(tmp_path: Path, inv: Inventory) -> None:
    store = Store(tmp_path / "s")
    a, _ = decide(store, inv, Settings(), firing({"fix502_host": "web1"}, "r1"))
    b, _ = decide(store, inv, Settings(), firing({"fix502_host": "web3"}, "r3"))
    assert store.claim() is not None  # web1 running when the process dies
    store.close()
    again = Store(tmp_path / "s")
    interrupted = again.interrupt_leftovers()
    assert [r.run_id for r in interrupted] == [a.run_id]
    assert again.get(a.run_id).outcome == "interrupted"  # type: ignore[union-attr]
    nxt = again.claim()
    assert nxt is not None and nxt.run_id == b.run_id and nxt.state == RUNNING
    assert again.claim() is None
    assert decide(again, inv, Settings(), firing({"fix502_host": "web1"}, "r1"))[0].decision == "duplicate"


def test_approval_needs_a_live_plan(store: Store, inv: Inventory) -> None:
    d, _ = decide(store, inv, Settings(), firing({"fix502_host": "web1"}, "p1"))
    assert d.run_id
    with pytest.raises(InputError, match="not awaiting approval"):
        store.approve(d.run_id, "t")
    store.claim()
    store.finish(d.run_id, state=AWAITING, outcome="planned", report=None, plan=[], expires=time.time() - 1)
    with pytest.raises(InputError, match="expired"):
        store.approve(d.run_id, "t")
    assert store.get(d.run_id).outcome == "expired"  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no run"):
        store.approve("nope", "t")


def test_a_bad_mode_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "i.yml").write_text("all:\n  hosts:\n    w: {fix502_mode: yolo}\n")
    with pytest.raises(InputError, match="w: fix502_mode 'yolo'"):
        check_modes(load_inventory(str(tmp_path / "i.yml")))


def _client_run(store: Store, inv: Inventory, settings: Settings, fn: Any) -> Any:
    async def go() -> Any:
        app = make_app(Server(store, inv, settings, Metrics(), TOKEN))
        async with TestClient(TestServer(app)) as client:
            return await fn(client)

    return asyncio.run(go())


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_http_auth_limits_and_answers(store: Store, inv: Inventory) -> None:
    async def go(c: TestClient) -> None:  # type: ignore[type-arg]
        assert (await c.post("/alertmanager", json=BODIES[0])).status == 401
        bad = {"Authorization": "Bearer " + "x" * 26}
        assert (await c.post("/alertmanager", json=BODIES[0], headers=bad)).status == 401
        assert (await c.get("/runs")).status == 401
        basic = {"Authorization": "Basic " + base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()}
        r = await c.post("/alertmanager", json=BODIES[0], headers=basic)
        assert r.status == 202 and (await r.json())["decisions"][0]["host"] == "web2"
        r = await c.post("/alertmanager", json=BODIES[1], headers=BEARER)
        assert r.status == 429  # max_queue=1 and web2's run waits
        r = await c.post("/alertmanager", json={"version": "3", "alerts": []}, headers=BEARER)
        assert r.status == 400 and "version" in (await r.json())["error"]
        r = await c.post("/alertmanager", data=b"x" * (2 * 1024 * 1024), headers=BEARER)
        assert r.status == 413
        runs = await (await c.get("/runs", headers=BEARER)).json()
        assert [x["host"] for x in runs["runs"]] == ["web2"]
        one = await (await c.get(f"/runs/{runs['runs'][0]['run_id']}", headers=BEARER)).json()
        assert one["alert"]["fingerprint"] == "e485a8819f79d0ea" and one["state"] == "queued"
        assert (await c.get("/runs/nope", headers=BEARER)).status == 404
        metrics = await (await c.get("/metrics")).text()
        assert 'fix502_alerts_refused_total{reason="unauthorised"} 3.0' in metrics
        assert 'fix502_alerts_refused_total{reason="queue-full"} 1.0' in metrics
        assert (await c.get("/healthz")).status == 200

    _client_run(store, inv, Settings(max_queue=1), go)
    assert [r.host for r in store.runs()] == ["web2"]


def test_notifications_are_redacted_and_escaped(store: Store, inv: Inventory) -> None:
    d, _ = decide(store, inv, Settings(), firing({"fix502_host": "web1", "alertname": "WordPress5xx"}, "n1"))
    evidence = {"cause": "fpm-down", "source": "nginx error.log", "line": "<!channel> define('DB_PASSWORD', 'hunter2')"}
    host = {"causes": ["fpm-down"], "evidence": [evidence], "error": None, "actions": [
        {"id": "restart-fpm", "changed": True, "verified": True, "rolled_back": False, "diff": ""}]}  # fmt: skip
    store.claim()
    store.finish(d.run_id or "", state=DONE, outcome="fixed", report={"hosts": {"web1": host}})
    run = store.get(d.run_id or "")
    assert run is not None
    s = summary(run, "http://127.0.0.1:9502/runs/" + run.run_id)
    assert "hunter2" not in json.dumps(s) and s["changed"][0]["fix"] == "restart-fpm"
    text = slack_message(s)["text"]
    assert "hunter2" not in text and "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "*fixed*" in text and f"<http://127.0.0.1:9502/runs/{run.run_id}|run {run.run_id}>" in text


def test_notify_targets() -> None:
    assert Target.parse("https://hooks.slack.com/services/T/B/x").slack
    assert Target.parse("slack+http://127.0.0.1:8080/hook") == Target("http://127.0.0.1:8080/hook", True)
    assert not Target.parse("http://127.0.0.1:8080/hook").slack
    with pytest.raises(ValueError):
        Target.parse("ftp://x/")


def test_token_file_and_listen_options(tmp_path: Path) -> None:
    tok = tmp_path / "tok"
    tok.write_text(TOKEN + "\n")
    os.chmod(tok, 0o644)
    with pytest.raises(OptionError, match="readable by others"):
        read_token(str(tok))
    os.chmod(tok, 0o600)
    assert read_token(str(tok)) == TOKEN
    tok.write_text("short")
    with pytest.raises(OptionError, match="at least 16"):
        read_token(str(tok))
    with pytest.raises(OptionError, match="--token-file"):
        read_token(str(tmp_path / "missing"))
    assert parse_listen("127.0.0.1:9502") == ("127.0.0.1", 9502)
    with pytest.raises(OptionError, match="ADDR:PORT"):
        parse_listen("9502")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_bad_serve_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    tok = tmp_path / "tok"
    tok.write_text(TOKEN)
    os.chmod(tok, 0o600)
    (tmp_path / "bad.yml").write_text("all:\n  hosts:\n    w1: {fix502_mode: yolo}\n")
    (tmp_path / "ok.yml").write_text("all:\n  hosts:\n    w1: {}\n")
    ok, bad, state = str(tmp_path / "ok.yml"), str(tmp_path / "bad.yml"), str(tmp_path / "s")
    cases = [
        (["serve", "--inventory", ok, "--state", state], "--token-file is required"),
        (["serve", "--inventory", bad, "--token-file", str(tok), "--state", state], "w1: fix502_mode 'yolo'"),
        (["serve", "--inventory", ok, "--token-file", str(tok), "--listen", "nope"], "--listen nope"),
        (["serve", "--inventory", ok, "--token-file", str(tok), "--cooldown", "x"], "--cooldown"),
        (["serve", "--inventory", ok, "--token-file", str(tok), "--state", state, "--notify", "ftp://x/"], "ftp://x/"),
        (["approve", "RUN", "--state", str(tmp_path / "none")], "no fix502 serve state"),
        (["breaker-reset", "--state", str(tmp_path / "none")], "no fix502 serve state"),
    ]
    for args, message in cases:
        res = _cli(*args)
        err = res.stderr.strip()
        assert res.returncode == 2 and "Traceback" not in err and len(err.splitlines()) == 1, (args, err)
        assert message in err, (args, err)
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


def test_approve_from_the_cli_queues_the_stored_plan(tmp_path: Path, inv: Inventory) -> None:
    store = Store(tmp_path / "state")
    d, _ = decide(store, inv, Settings(), firing({"fix502_host": "web1"}, "cli1"))
    store.claim()
    store.finish(d.run_id or "", state=AWAITING, outcome="planned", report=None, plan=[], expires=time.time() + 60)
    res = _cli("approve", d.run_id or "", "--state", str(tmp_path / "state"))
    assert res.returncode == 0 and "approved" in res.stdout, res.stderr
    assert store.get(d.run_id or "").state == "approved"  # type: ignore[union-attr]
    res = _cli("approve", d.run_id or "", "--state", str(tmp_path / "state"))
    assert res.returncode == 2 and "not awaiting approval" in res.stderr


def test_a_flood_is_answered_429_and_never_overfills_the_queue(tmp_path: Path) -> None:
    hosts = "".join(f"    h{i}: {{ansible_host: 10.1.0.{i}}}\n" for i in range(60))
    (tmp_path / "big.yml").write_text("all:\n  hosts:\n" + hosts)
    big = load_inventory(str(tmp_path / "big.yml"))
    store = Store(tmp_path / "state")

    async def go(c: TestClient) -> list[int]:  # type: ignore[type-arg]
        async def post(i: int) -> int:
            body = {"version": "4", "alerts": [firing({"fix502_host": f"h{i}"}, f"flood{i}")]}
            return (await c.post("/alertmanager", json=body, headers=BEARER)).status

        codes = await asyncio.gather(*(post(i) for i in range(60)))
        assert (await c.get("/healthz")).status == 200
        return list(codes)

    codes = _client_run(store, big, Settings(max_queue=10, max_hosts=100), go)
    assert set(codes) == {202, 429} and codes.count(202) == 10, codes
    assert store.queued_count() == 10
