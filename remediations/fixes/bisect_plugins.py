"""Find the plugin that kills (or stalls) PHP workers, by bisection, and disable only it.

The search runs per request, the way WordPress's Health Check troubleshooting mode does, so
visitors never lose a plugin (WooCommerce, the firewall) while it runs and no page cache stores a
stripped page.  A temporary must-use plugin (``wp-content/mu-plugins/fix502-bisect.php``, created
through the journal: atomically, no link followed, owned like its directory, 0640) filters
``option_active_plugins`` / ``site_option_active_sitewide_plugins`` only for a request carrying
``X-Fix502-Bisect``: HMAC-SHA256 over (mode, expiry, nonce, plugins switched off) with a key made
for this run alone, expiring within minutes, sent from the host itself by ``curl --resolve`` with a
fresh query argument and ``Cache-Control: no-cache`` (the mu-plugin answers ``no-store`` and
defines ``DONOTCACHEPAGE``).  First a signed *echo* probe proves the mu-plugin is loaded and a
worker answers; then all suspects off, then halves back on — ⌈log2 n⌉ probes instead of n — and a
last signed probe with only the culprit off.  Only then is anything visible changed: the culprit's
directory alone is renamed into ``wp-content/plugins.fix502-off/``, the mu-plugin deleted, and the
site verified without the header.

A rename rather than editing ``active_plugins``: WordPress skips an active plugin whose file is
missing, so no deactivation hook runs (a plugin's own code, as cleanup can drop its data), the
serialized option is never rewritten, and the journal's undo (one ``mv`` back) restores the site
byte for byte even if an admin saved options meanwhile.

Where per-request filtering cannot work — the echo probe gets no worker (the pool is exhausted by
normal traffic) or the mu-plugin is not loaded (not readable by the pool, a custom mu-plugin
directory, facts older than the signature lifetime) — or ``with: {method: rename}``, the fix falls back to the
articles' test, and says so: ``wp-content/plugins`` is renamed away for everyone, halves come back,
and every plugin but the culprit is back in place at the end.  Rollback restores either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import posixpath
import secrets
import time
from collections.abc import Generator
from importlib import resources

from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult, Steps, register
from remediations.plan import CreateFile, DeleteFile, MakeDir, Op, Plan, Rename

PARKED = "plugins.fix502-off"
MU_PLUGIN = "fix502-bisect.php"
HEADER = "X-Fix502-Bisect"
TTL = 300  # seconds a signature is good for; the mu-plugin refuses anything valid for over 900
MAX_HEADER = 6000  # web servers refuse request header lines of 8 KiB (nginx's default buffer)


def plugin_entry(active: str) -> str:
    """``akismet/akismet.php`` lives in the entry ``akismet``; ``hello.php`` is its own entry."""
    return active.split("/", 1)[0]


def signature(key: str, mode: str, expiry: int, nonce: str, off: list[str]) -> str:
    """The header value the mu-plugin accepts: ``v1.MODE.EXPIRY.NONCE.OFF.SIG`` where OFF is the
    switched-off entries, newline-joined, in URL-safe base64 (padding kept), and SIG the hex
    HMAC-SHA256 of those four fields under ``key`` — so no field can be changed or reused for
    another subset, and none can contain the ``.`` separator."""
    off64 = base64.urlsafe_b64encode("\n".join(off).encode()).decode()
    message = f"fix502-bisect-v1\n{mode}\n{expiry}\n{nonce}\n{off64}"
    sig = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"v1.{mode}.{expiry}.{nonce}.{off64}.{sig}"


def echo_marker(key: str, nonce: str) -> str:
    """What the mu-plugin prints for a signed echo probe: only the holder of the key can say it."""
    return hmac.new(key.encode(), f"echo {nonce}".encode(), hashlib.sha256).hexdigest()


def mu_plugin_source(key: str) -> str:
    template = resources.files("remediations.fixes").joinpath("assets", MU_PLUGIN).read_text()
    return template.replace("@KEY@", key)


class Signer:
    """Makes each probe's header with this run's key; expiry is counted on the host's clock (its
    reading in the facts), so a controller whose clock is off does not matter."""

    def __init__(self, key: str, host_now: float) -> None:
        self.key = key
        self.offset = host_now - time.time()
        self.sent = 0  # signed requests made (retries aside), for the report

    def probe(self, mode: str, off: list[str]) -> Probe:
        self.sent += 1
        nonce = secrets.token_hex(8)
        expiry = int(time.time() + self.offset) + TTL
        headers = ((HEADER, signature(self.key, mode, expiry, nonce, off)), ("Cache-Control", "no-cache"))
        query = f"fix502-bisect={nonce}"  # a URL no page cache has seen
        if mode == "echo":
            body = f"fix502-bisect-echo:{echo_marker(self.key, nonce)}"
            return Probe(expect_body=body, attempts=2, headers=headers, query=query)
        return Probe(attempts=2, headers=headers, query=query)


@register
class BisectPlugins(Fix):
    id = "bisect-plugins"
    title = "Find the culprit plugin by bisection"
    causes = frozenset({"worker-crash", "worker-timeout"})
    params = {"method": str}  # "auto" (per request, rename only as fallback) or "rename"

    def __init__(self) -> None:
        self.key = secrets.token_hex(32)  # this run's alone; never shown (diffs say <secret>)
        self.next_probe = Probe(attempts=2)

    def guard(self, ctx: FixContext) -> bool:
        wp = ctx.facts.wordpress
        return bool(wp.root and wp.plugin_dirs) and super().guard(ctx)

    def _paths(self, ctx: FixContext) -> tuple[str, str]:
        root = ctx.facts.wordpress.root or ""
        content = posixpath.join(root, "wp-content")
        return posixpath.join(content, "plugins"), posixpath.join(content, PARKED)

    def _mu_path(self, ctx: FixContext) -> str:
        return posixpath.join(ctx.facts.wordpress.root or "", "wp-content", "mu-plugins", MU_PLUGIN)

    def _split(self, ctx: FixContext) -> tuple[list[str], list[str]]:
        """(suspects: entries of active plugins in load order, others: everything else in plugins/)."""
        wp = ctx.facts.wordpress
        entries = list(wp.plugin_dirs)
        active = [plugin_entry(a) for a in (wp.active_plugins or [])]
        if wp.active_plugins is None:  # WordPress's data unreadable: every entry is a suspect
            active = [e for e in entries if e != "index.php"]
        suspects = [e for e in dict.fromkeys(active) if e in entries]
        return suspects, [e for e in entries if e not in suspects]

    def verify(self, ctx: FixContext) -> Probe:
        """The probe for the plan just yielded: a signed subset, the echo, or the plain final one."""
        return self.next_probe

    def plan(self, ctx: FixContext) -> Plan:
        """The first step, as a dry run shows it."""
        return next(self.steps(ctx))

    def _why_not_per_request(self, ctx: FixContext) -> str | None:
        suspects, _ = self._split(ctx)
        if str(ctx.params.get("method", "auto")) == "rename":
            return "the playbook asks for it (with: {method: rename})"
        if any(c in s for s in suspects for c in "\n\r\x00"):
            return "a plugin directory name holds control characters, which a signed header cannot carry"
        if len(signature(self.key, "off", int(ctx.facts.now), "0" * 16, suspects)) > MAX_HEADER:
            return f"{len(suspects)} plugin names do not fit in one request header"
        return None

    def steps(self, ctx: FixContext) -> Steps:
        if ctx.facts.wordpress.plugins_parked:
            shown = ", ".join(ctx.facts.wordpress.plugins_parked[:5])
            yield Plan.refuse(
                self.id, "plugins already parked", f"{PARKED} of an earlier run still holds {shown}: restore it first"
            )
            return None
        if MU_PLUGIN in ctx.facts.wordpress.mu_plugins:
            why = f"mu-plugins/{MU_PLUGIN} of an earlier run is still there: `fix502 rollback` that run first"
            yield Plan.refuse(self.id, "bisection mu-plugin already present", why)
            return None
        suspects, _ = self._split(ctx)
        if not suspects:
            yield Plan.noop(self.id, "no active plugin to test")
            return None
        signer = Signer(self.key, ctx.facts.now)
        unworkable = self._why_not_per_request(ctx)
        if unworkable is not None:
            return (yield from self._rename_steps(ctx, [], f"fallback to renaming wp-content/plugins: {unworkable}"))
        return (yield from self._per_request(ctx, signer, suspects))

    def _install(self, ctx: FixContext, signer: Signer, suspects: list[str]) -> Plan:
        root = ctx.facts.wordpress.root or ""
        n = len(suspects)
        self.next_probe = signer.probe("echo", [])
        create = CreateFile(
            self._mu_path(ctx),
            mu_plugin_source(self.key),
            posixpath.join(root, "wp-content"),
            "640",
            "per-request bisection: only signed probes from this host load WordPress with plugins off",
            (self.key,),
        )
        notes = [
            "probe 1: a signed echo request; the mu-plugin must answer with the run's marker "
            "(else: fallback to renaming wp-content/plugins, for every visitor)",
            f"then signed probes (curl --resolve, X-Fix502-Bisect, fresh query, no-cache): every suspect off, "
            f"halves back on (about {math.ceil(math.log2(max(n, 1))) + 2} probes for {n} active plugins), "
            "visitors keep every plugin",
            f"verdict: only the culprit's directory renamed into {self._paths(ctx)[1]}/, "
            "the mu-plugin deleted, the site verified without the header",
        ]
        return Plan(self.id, "install the bisection mu-plugin and probe it", [create], notes=notes, may_change=True)

    def _signed(self, signer: Signer, suspects: list[str], on: list[str], why: str) -> Plan:
        self.next_probe = signer.probe("off", [s for s in suspects if s not in on])
        return Plan(self.id, why, [], may_change=True)

    def _answers(self, signer: Signer) -> Generator[Plan, ProbeResult, bool]:
        """After a failed probe: does the pool still answer a signed echo?  If not, the failure
        says nothing about the plugins (no worker was free) and the search cannot go on."""
        self.next_probe = signer.probe("echo", [])
        result = yield Plan(self.id, "signed echo: does a worker still answer?", [], may_change=True)
        return result.ok

    def _per_request(self, ctx: FixContext, signer: Signer, suspects: list[str]) -> Steps:
        result: ProbeResult = yield self._install(ctx, signer, suspects)
        mu = DeleteFile(self._mu_path(ctx), "per-request bisection cannot work here")
        if not result.ok:
            seen = result.detail or f"HTTP {result.status or 'no answer'}"
            why = f"the signed echo probe failed ({seen}): no free worker, or the mu-plugin is not loaded"
            return (yield from self._rename_steps(ctx, [mu], f"fallback to renaming wp-content/plugins: {why}"))
        result = yield self._signed(signer, suspects, [], "signed probe: every active plugin off")
        if not result.ok:
            if not (yield from self._answers(signer)):
                return (yield from self._rename_steps(ctx, [mu], "fallback: the pool stopped answering signed probes"))
            # the last probe (the echo) passed: a refusal makes the driver see the failure and roll back
            yield Plan.refuse(
                self.id, "plugins cleared", "the site fails with every plugin disabled: plugins are not the cause"
            )
            return None
        good: list[str] = []  # entries proven harmless together
        candidates = list(suspects)
        while len(candidates) > 1:
            half, rest = candidates[: len(candidates) // 2], candidates[len(candidates) // 2 :]
            result = yield self._signed(signer, suspects, good + half, f"signed probe: {', '.join(half)} back on")
            if result.ok:
                good, candidates = good + half, rest
                continue
            if not (yield from self._answers(signer)):
                return (yield from self._rename_steps(ctx, [mu], "fallback: the pool stopped answering signed probes"))
            candidates = half
        culprit = candidates[0]
        others = [s for s in suspects if s != culprit]
        result = yield self._signed(signer, suspects, others, f"signed probe: every plugin but {culprit} on")
        if not result.ok:
            return f"{culprit} looked guilty but the site still fails without it"
        return (yield from self._verdict(ctx, culprit, signer.sent, len(suspects)))

    def _verdict(self, ctx: FixContext, culprit: str, probes: int, total: int) -> Steps:
        plugins, parked = self._paths(ctx)
        note = f"culprit: {culprit} ({probes} signed probes for {total} active plugins; visitors kept every plugin)"
        self.next_probe = Probe()  # unsigned, the playbook's verify retries: what visitors get
        result = yield Plan(
            self.id,
            f"disable {culprit} only",
            [
                MakeDir(parked, plugins, "where the culprit is parked (rollback moves it back)"),
                Rename(posixpath.join(plugins, culprit), posixpath.join(parked, culprit), f"keep {culprit} disabled"),
                DeleteFile(self._mu_path(ctx), "the search is over"),
            ],
            notes=[note],
        )
        if not result.ok:
            return f"{culprit} looked guilty but the site still fails without it"
        return f"culprit plugin {culprit} left disabled in {parked}/; {note}"

    def _rename_steps(self, ctx: FixContext, first: list[Op], fallback: str) -> Steps:
        """The articles' test, for everyone: rename ``wp-content/plugins`` away, bring halves back."""
        plugins, parked = self._paths(ctx)
        suspects, others = self._split(ctx)
        total = len(suspects)
        inside: set[str] = set()
        self.next_probe = Probe(attempts=2)

        def move(names: list[str], into: bool, why: str, notes: list[str] | None = None) -> Plan:
            pairs = [(posixpath.join(parked, n), posixpath.join(plugins, n)) for n in names]
            ops: list[Op] = [Rename(a, b, why) if into else Rename(b, a, why) for a, b in pairs]
            return Plan(self.id, why, ops, notes=notes or [], may_change=True)

        result: ProbeResult = yield Plan(
            self.id,
            "disable every plugin (rename wp-content/plugins) and probe",
            [
                *first,
                Rename(plugins, parked, "the articles' test: load WordPress without plugins"),
                MakeDir(plugins, parked, "an empty plugins directory in its place"),
                *(
                    Rename(posixpath.join(parked, n), posixpath.join(plugins, n), "not a plugin that is active")
                    for n in others
                ),
            ],
            notes=[fallback],
            may_change=True,
        )
        if not result.ok:
            return "the site fails with every plugin disabled: plugins are not the cause"
        probes = 1
        outside = True  # are the remaining suspects parked (site healthy) or inside (site failing)?
        while len(suspects) > 1:
            half, rest = suspects[: len(suspects) // 2], suspects[len(suspects) // 2 :]
            if outside:
                result = yield move(half, True, f"bisect: bring back {', '.join(half)}")
                inside.update(half)
                # failing now: the culprit is in the half just brought back (and it is inside)
                suspects, outside = (rest, True) if result.ok else (half, False)
            else:
                result = yield move(half, False, f"bisect: park {', '.join(half)} again")
                inside.difference_update(half)
                suspects, outside = (half, True) if result.ok else (rest, False)
            probes += 1
        culprit = suspects[0]
        note = f"culprit: {culprit} ({probes + 1} probes for {total} active plugins; {fallback})"
        final = move(
            [e for e in self._split(ctx)[0] if e != culprit and e not in inside],
            True,
            f"restore every plugin but {culprit}",
            [note],
        )
        if culprit in inside:
            final.ops.insert(
                0, Rename(posixpath.join(plugins, culprit), posixpath.join(parked, culprit), f"keep {culprit} disabled")
            )
        result = yield final
        if not result.ok:
            return f"{culprit} looked guilty but the site still fails without it"
        return f"culprit plugin {culprit} left disabled in {parked}/; {note}"
