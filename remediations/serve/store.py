"""Everything the server must not forget, in one SQLite file under ``--state``.

Why SQLite and not memory: a restart (deploy, crash, OOM) must lose no queued alert and run none
twice.  Each alert is committed (with its decision and the run it queued) before the webhook is
answered, so Alertmanager's retry after a crash meets the same dedupe key.  A run that was
``running`` when the process died is marked ``interrupted`` on the next start and never re-run on
its own: its host may be half-way through a change (the on-host journal lets ``fix502 rollback``
finish it) and holds a stale lock.

One connection per process, serialised by a lock (the worker threads and the HTTP loop share it);
other processes (``fix502 approve``) open their own and SQLite's file locking orders them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remediations.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts(
    key TEXT PRIMARY KEY, fingerprint TEXT, starts_at TEXT, host TEXT, received REAL,
    decision TEXT, run_id TEXT, alert TEXT);
CREATE INDEX IF NOT EXISTS alerts_received ON alerts(received);
CREATE TABLE IF NOT EXISTS runs(
    run_id TEXT PRIMARY KEY, host TEXT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL,
    outcome TEXT, alert TEXT, created REAL, started REAL, finished REAL, expires REAL,
    approved REAL, plan TEXT, report TEXT, note TEXT, attempts INTEGER DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_host ON runs(host, created);
CREATE TABLE IF NOT EXISTS audit(
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL, event TEXT, host TEXT, run_id TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS breaker(
    id INTEGER PRIMARY KEY CHECK (id = 1), open INTEGER NOT NULL, since REAL, reason TEXT);
INSERT OR IGNORE INTO breaker(id, open) VALUES (1, 0);
"""

# Where a run is in its life.  ``queued`` and ``approved`` wait for a worker.
QUEUED, RUNNING, AWAITING, APPROVED, DONE = "queued", "running", "awaiting-approval", "approved", "done"
WAITING = (QUEUED, APPROVED)
INTERRUPTED_NOTE = "the server stopped during this run; not re-run (see `fix502 rollback`)"
ACTIVE = (QUEUED, RUNNING, APPROVED)


@dataclass
class Run:
    run_id: str
    host: str
    mode: str
    state: str
    outcome: str | None
    alert: dict[str, Any]
    created: float
    started: float | None
    finished: float | None
    expires: float | None
    approved: float | None
    plan: list[dict[str, Any]] | None
    report: dict[str, Any] | None
    note: str | None

    def as_json(self) -> dict[str, Any]:
        host = (self.report or {}).get("hosts", {}).get(self.host, {})
        return {
            "run_id": self.run_id,
            "host": self.host,
            "mode": self.mode,
            "state": self.state,
            "outcome": self.outcome,
            "note": self.note,
            "alert": self.alert,
            "causes": host.get("causes", []),
            "evidence": host.get("evidence", []),
            "plan": self.plan,
            "actions": host.get("actions", []),
            "error": host.get("error"),
            "created": _iso(self.created),
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "plan_expires": _iso(self.expires),
            "approved": _iso(self.approved),
            "report": self.report,
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Unique across processes and restarts, and safe as a directory name on the host (the
    journal's backup directory is named after it)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


class Store:
    def __init__(self, state_dir: str | Path) -> None:
        d = Path(state_dir)
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                d / "fix502-serve.sqlite3", timeout=15, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"--state {state_dir}: cannot use it: {exc}") from None
        self.dir = d
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def tx(self) -> _Tx:
        """``with store.tx():`` — one immediate transaction, held against the other threads too."""
        return _Tx(self)

    # -- audit --------------------------------------------------------------------------------
    def audit(self, event: str, host: str | None = None, run_id: str | None = None, **detail: Any) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO audit(ts, event, host, run_id, detail) VALUES (?,?,?,?,?)",
                (time.time(), event, host, run_id, json.dumps(detail, default=str)),
            )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT ts, event, host, run_id, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [
            {"time": _iso(ts), "event": ev, "host": h, "run_id": r, "detail": json.loads(d or "{}")}
            for ts, ev, h, r, d in rows
        ]

    # -- alerts -------------------------------------------------------------------------------
    def seen(self, key: str) -> tuple[str, str | None] | None:
        with self.lock:
            row = self.db.execute("SELECT decision, run_id FROM alerts WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], row[1])

    def record_alert(
        self,
        key: str,
        fingerprint: str,
        starts_at: str,
        host: str | None,
        decision: str,
        run_id: str | None,
        alert: Any,
    ) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR IGNORE INTO alerts VALUES (?,?,?,?,?,?,?,?)",
                (key, fingerprint, starts_at, host, time.time(), decision, run_id, json.dumps(alert)),
            )

    def hosts_alerting_since(self, since: float) -> set[str]:
        """Distinct inventory hosts with an accepted (mapped, not duplicate) alert since ``since``."""
        with self.lock:
            rows = self.db.execute(
                "SELECT DISTINCT host FROM alerts WHERE received >= ? AND host IS NOT NULL "
                "AND decision NOT IN ('duplicate', 'refused')",
                (since,),
            ).fetchall()
        return {r[0] for r in rows}

    # -- the breaker --------------------------------------------------------------------------
    def breaker(self) -> tuple[bool, float | None, str | None]:
        with self.lock:
            is_open, since, reason = self.db.execute("SELECT open, since, reason FROM breaker WHERE id = 1").fetchone()
        return bool(is_open), since, reason

    def trip(self, reason: str) -> bool:
        """Open the breaker; True when this call opened it (so the trip is announced once)."""
        with self.lock:
            cur = self.db.execute(
                "UPDATE breaker SET open = 1, since = ?, reason = ? WHERE id = 1 AND open = 0", (time.time(), reason)
            )
            return cur.rowcount == 1

    def reset_breaker(self, by: str) -> bool:
        with self.lock:
            cur = self.db.execute(
                "UPDATE breaker SET open = 0, since = ?, reason = NULL WHERE id = 1 AND open = 1", (time.time(),)
            )
            self.audit("breaker-reset", by=by, was_open=cur.rowcount == 1)
            return cur.rowcount == 1

    # -- runs ---------------------------------------------------------------------------------
    def add_run(self, host: str, mode: str, alert: dict[str, Any]) -> str:
        run_id = new_run_id()
        with self.lock:
            self.db.execute(
                "INSERT INTO runs(run_id, host, mode, state, alert, created) VALUES (?,?,?,?,?,?)",
                (run_id, host, mode, QUEUED, json.dumps(alert), time.time()),
            )
        return run_id

    def queued_count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM runs WHERE state IN (?, ?)", WAITING).fetchone()[0])

    def last_run(self, host: str) -> Run | None:
        with self.lock:
            row = self.db.execute(
                f"SELECT {_COLS} FROM runs WHERE host = ? ORDER BY created DESC LIMIT 1", (host,)
            ).fetchone()
        return None if row is None else _run(row)

    def get(self, run_id: str) -> Run | None:
        with self.lock:
            row = self.db.execute(f"SELECT {_COLS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def runs(self, limit: int = 100, host: str | None = None) -> list[Run]:
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM runs WHERE (? IS NULL OR host = ?) ORDER BY created DESC LIMIT ?",
                (host, host, limit),
            ).fetchall()
        return [_run(r) for r in rows]

    def claim(self) -> Run | None:
        """The oldest waiting run whose host has no run in progress: one run per host at a time,
        whichever worker or alert started it."""
        with self.tx():
            row = self.db.execute(
                f"SELECT {_COLS} FROM runs r WHERE state IN (?, ?) AND NOT EXISTS "
                "(SELECT 1 FROM runs o WHERE o.host = r.host AND o.state = ?) ORDER BY created LIMIT 1",
                (*WAITING, RUNNING),
            ).fetchone()
            if row is None:
                return None
            run = _run(row)
            self.db.execute(
                "UPDATE runs SET state = ?, started = ?, attempts = attempts + 1 WHERE run_id = ?",
                (RUNNING, time.time(), run.run_id),
            )
        run.state = RUNNING
        return run

    def finish(
        self,
        run_id: str,
        *,
        state: str,
        outcome: str,
        report: dict[str, Any] | None,
        plan: list[dict[str, Any]] | None = None,
        expires: float | None = None,
        note: str | None = None,
    ) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE runs SET state = ?, outcome = ?, report = ?, plan = COALESCE(?, plan), "
                "expires = COALESCE(?, expires), note = ?, finished = ? WHERE run_id = ?",
                (
                    state,
                    outcome,
                    json.dumps(report) if report is not None else None,
                    json.dumps(plan) if plan is not None else None,
                    expires,
                    note,
                    time.time(),
                    run_id,
                ),
            )
            self.audit(f"run-{state}", run_id=run_id, outcome=outcome, note=note)

    def approve(self, run_id: str, by: str) -> Run:
        """A person approved the stored plan: queue the real run.  Refused (InputError, one line)
        for an unknown run, one not waiting for approval, or an expired plan."""
        problem = None
        with self.tx():
            run = self.get(run_id)
            if run is None:
                problem = f"no run {run_id}"
            elif run.state != AWAITING:
                problem = f"run {run_id} is not awaiting approval (state {run.state}, outcome {run.outcome})"
            elif run.expires is not None and run.expires < time.time():
                self._expire(run_id)  # committed: the refusal is recorded, not rolled back
                problem = f"run {run_id}: the plan expired at {_iso(run.expires)}; a new alert makes a new one"
            else:
                self.db.execute(
                    "UPDATE runs SET state = ?, approved = ? WHERE run_id = ?", (APPROVED, time.time(), run_id)
                )
                self.audit("approved", host=run.host, run_id=run_id, by=by)
            # read inside the transaction: the answer is what this approval did, even when a worker
            # claims the run the moment it commits (the lab saw "running" here once)
            out = self.get(run_id)
        if problem is not None or out is None:
            raise InputError(problem or f"no run {run_id}")
        return out

    def _expire(self, run_id: str) -> None:
        self.db.execute(
            "UPDATE runs SET state = ?, outcome = 'expired', finished = ? WHERE run_id = ?", (DONE, time.time(), run_id)
        )
        self.audit("plan-expired", run_id=run_id)

    def expire_plans(self) -> list[str]:
        with self.tx():
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT run_id FROM runs WHERE state = ? AND expires < ?", (AWAITING, time.time())
                ).fetchall()
            ]
            for run_id in ids:
                self._expire(run_id)
        return ids

    def interrupt_leftovers(self) -> list[Run]:
        """At start-up: runs a dead process left ``running`` are finished as ``interrupted``."""
        with self.tx():
            rows = self.db.execute(f"SELECT {_COLS} FROM runs WHERE state = ?", (RUNNING,)).fetchall()
            for row in rows:
                self.db.execute(
                    "UPDATE runs SET state = ?, outcome = 'interrupted', finished = ?, note = ? WHERE run_id = ?",
                    (
                        DONE,
                        time.time(),
                        INTERRUPTED_NOTE,
                        row[0],
                    ),
                )
                self.audit("run-interrupted", host=row[1], run_id=row[0])
        return [_run(r) for r in rows]


class _Tx:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store.lock.acquire()
        self.store.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            self.store.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.store.lock.release()


_COLS = "run_id, host, mode, state, outcome, alert, created, started, finished, expires, approved, plan, report, note"


def _run(row: tuple[Any, ...]) -> Run:
    rid, host, mode, state, outcome, alert, created, started, finished, expires, approved, plan, report, note = row
    return Run(
        rid,
        host,
        mode,
        state,
        outcome,
        json.loads(alert or "{}"),
        created,
        started,
        finished,
        expires,
        approved,
        json.loads(plan) if plan else None,
        json.loads(report) if report else None,
        note,
    )
