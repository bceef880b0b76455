"""The HTTP side (aiohttp.web): the Alertmanager webhook, runs, approvals, the breaker, metrics.

Every endpoint that triggers or reveals something needs the token — as ``Authorization: Bearer``
or as the password of HTTP basic auth (Alertmanager's ``http_config`` sends either).  ``/metrics``
and ``/healthz`` are open: they carry counts, no host data.  Bodies are capped (``client_max_size``,
413) and so is the queue: a flood is answered 429 and nothing of it is queued.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from remediations.errors import InputError
from remediations.inventory import Inventory
from remediations.report import redact_obj
from remediations.serve.metrics import CONTENT_TYPE, Metrics
from remediations.serve.policy import QueueFull, Settings, check_payload, decide
from remediations.serve.store import Store

MAX_BODY = 1024 * 1024  # Alertmanager caps a group's alerts with max_alerts; 1 MiB is generous
MAX_ALERTS = 1000
MAX_IN_FLIGHT = 64  # requests being handled at once; more is a flood, answered 429


@dataclass
class Server:
    store: Store
    inventory: Inventory
    settings: Settings
    metrics: Metrics
    token: str

    def authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        given = ""
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                given = ""
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


KEY = web.AppKey("server", Server)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(redact_obj(data), status=status, dumps=lambda d: json.dumps(d, indent=1))


def _server(request: web.Request, *, auth: bool = True) -> Server:
    srv = request.app[KEY]
    if auth and not srv.authorised(request):
        srv.store.audit("unauthorised", path=request.path, peer=request.remote)
        srv.metrics.refused.labels("unauthorised").inc()
        raise web.HTTPUnauthorized(
            text='{"error": "missing or wrong token"}\n',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="fix502", Basic realm="fix502"'},
        )
    return srv


async def alertmanager(request: web.Request) -> web.Response:
    srv = _server(request)
    try:
        alerts = check_payload(await request.json())
    except (ValueError, InputError) as exc:
        srv.store.audit("bad-payload", problem=str(exc))
        return _json({"error": str(exc) if isinstance(exc, InputError) else "payload: not JSON"}, 400)
    if len(alerts) > MAX_ALERTS:
        return _json({"error": f"payload: more than {MAX_ALERTS} alerts"}, 413)
    try:
        decisions = await asyncio.to_thread(_decide_all, srv, alerts)
    except QueueFull:
        srv.metrics.refused.labels("queue-full").inc()
        srv.store.audit("queue-full", alerts=len(alerts))
        return _json({"error": f"queue full ({srv.settings.max_queue} runs waiting); retry later"}, 429)
    return _json({"decisions": decisions}, 202)


def _decide_all(srv: Server, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for alert in alerts:
        srv.metrics.received.inc()
        d, _tripped = decide(srv.store, srv.inventory, srv.settings, alert)
        srv.metrics.decisions.labels(d.decision).inc()
        if d.decision == "duplicate":
            srv.metrics.deduped.inc()
        elif d.decision == "refused":
            srv.metrics.refused.labels("unknown-host").inc()
        out.append(d.as_json())
    srv.metrics.breaker.set(1 if srv.store.breaker()[0] else 0)
    srv.metrics.queue.set(srv.store.queued_count())
    return out


async def list_runs(request: web.Request) -> web.Response:
    srv = _server(request)
    host = request.query.get("host")
    rows = await asyncio.to_thread(srv.store.runs, 200, host)
    keep = ("run_id", "host", "mode", "state", "outcome", "note", "created", "finished", "causes")
    return _json({"runs": [{k: r.as_json()[k] for k in keep} for r in rows]})


async def get_run(request: web.Request) -> web.Response:
    srv = _server(request)
    run = await asyncio.to_thread(srv.store.get, request.match_info["run_id"])
    if run is None:
        return _json({"error": "no such run"}, 404)
    return _json(run.as_json())


async def approve(request: web.Request) -> web.Response:
    srv = _server(request)
    try:
        run = await asyncio.to_thread(srv.store.approve, request.match_info["run_id"], f"http {request.remote}")
    except InputError as exc:
        return _json({"error": exc.one_line()}, 409)
    return _json({"run_id": run.run_id, "state": run.state}, 202)


async def breaker_reset(request: web.Request) -> web.Response:
    srv = _server(request)
    was_open = await asyncio.to_thread(srv.store.reset_breaker, f"http {request.remote}")
    srv.metrics.breaker.set(0)
    return _json({"breaker": "closed", "was_open": was_open})


async def breaker_state(request: web.Request) -> web.Response:
    srv = _server(request)
    is_open, since, reason = srv.store.breaker()
    return _json({"open": is_open, "since": since, "reason": reason})


async def metrics(request: web.Request) -> web.Response:
    srv = _server(request, auth=False)
    srv.metrics.breaker.set(1 if srv.store.breaker()[0] else 0)
    return web.Response(body=srv.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def healthz(request: web.Request) -> web.Response:
    srv = _server(request, auth=False)
    srv.store.queued_count()  # the database answers
    return _json({"ok": True})


def _bounded() -> Any:
    in_flight = 0

    @web.middleware
    async def bound(request: web.Request, handler: Any) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= MAX_IN_FLIGHT:
            request.app[KEY].metrics.refused.labels("flood").inc()
            return _json({"error": "too many requests at once; retry later"}, 429)
        in_flight += 1
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            in_flight -= 1

    return bound


def make_app(server: Server) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_bounded()])
    app[KEY] = server
    app.router.add_post("/alertmanager", alertmanager)
    app.router.add_get("/runs", list_runs)
    app.router.add_get("/runs/{run_id}", get_run)
    app.router.add_post("/runs/{run_id}/approve", approve)
    app.router.add_post("/breaker/reset", breaker_reset)
    app.router.add_get("/breaker", breaker_state)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app
