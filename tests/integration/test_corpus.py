"""fix502's nginx editors on real WordPress configurations, checked by the real nginx (issue 11).

Each case of ``../shared/corpus/configs`` (Debian's, the nginx wiki's, Trellis, WordOps,
EasyEngine 3/4, SpinupWP, pothi, Centmin Mod, HestiaCP, a FreeBSD jail, a Debian snippet site) is
laid out in a sandbox (:mod:`tests.integration.corpus_sandbox`) and printed by the real
``nginx -T``.  That output replaces the nginx section of a real lab capture of the fault
(``old-php-socket``: the only live pool is ``www`` on ``/run/php/php8.2-fpm.sock``), so the facts
come from the product's own parser; the plan is the product's own.  Then the edits are written
into the sandbox — each ``before`` must be the file's bytes, as on a host — and:

- the real ``nginx -t`` accepts the result;
- the re-parsed site dials the live pool (no socket mismatch left);
- only the directive lines changed; every other file, and every other byte, is identical.

Skipped when the corpus is absent (it is beside the project, not in it).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from remediations.diagnosis import classify
from remediations.endpoint import Endpoint
from remediations.facts import parsers as p
from remediations.facts.model import FpmService
from remediations.facts.script import parse_evidence
from remediations.fixes import REGISTRY
from remediations.fixes._common import PoolEndpoint
from remediations.fixes.base import FixContext, ProbeResult
from remediations.fixes.size_max_children import SizeMaxChildren
from remediations.plan import Plan, WriteFile
from tests.integration.corpus_sandbox import CORPUS, NginxSandbox
from tests.unit.evidence_text import FIXTURE_BOUNDARY

CAPTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "evidence"
LIVE = "/run/php/php8.2-fpm.sock"

# case, site URL, the address its block listens on, what realign must do:
# "edit" (the site's directive or its upstream's server line), or "refuse" with the reason's words
SITES = [
    ("n02-do-docker-compose", "http://example.com/", None, "refuse:is dialled by name"),
    ("n03-nginx-wiki-recipe", "http://domain.tld/", None, "edit"),
    ("n04-trellis", "https://example.com/", None, "edit"),
    ("n05-wordops", "http://example.com/", None, "edit"),
    ("n06-easyengine3", "http://example.com/", None, "edit"),
    ("n07-easyengine4", "http://example.com/", None, "refuse:is dialled by name"),
    ("n08-spinupwp", "https://single-site.com/", None, "refuse:$upstream"),
    ("n08-spinupwp", "https://single-site-with-caching.com/", None, "refuse:$upstream"),
    ("n09-pothi", "http://example.com/", None, "edit"),
    ("n10-centminmod", "http://www.demodomain.com/", None, "edit"),
    ("n11-hestiacp", "https://example.com/", "203.0.113.10", "edit"),
    ("n12-bastille-freebsd", "https://localhost/", None, "edit"),
    ("n13-debian-snippet-site", "http://atlgaza.com/", None, "edit"),
]

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/configs is not here")


def evidence(capture: str, dump: str, url: str, address: str | None) -> str:
    """The capture with its nginx section replaced by the case's real ``nginx -T`` and its probe
    aimed at the case's site (the address the site's block listens on, when it names one)."""
    sections = p.split_sections((CAPTURES / f"{capture}.txt").read_text(), FIXTURE_BOUNDARY)
    addr = address or "127.0.0.11"
    port = "443" if url.startswith("https") else "80"
    host = url.split("/")[2]
    out = []
    for s in sections:
        body = s.body
        if (s.kind, s.arg) == ("cmd", "nginx-T"):
            body = dump
        elif s.kind == "probe":
            body = body.replace("url=http://127.0.0.11/", f"url={url}")
            body = body.replace("resolve=127.0.0.11:80:127.0.0.11", f"resolve={host}:{port}:{addr}")
        out.append((s.kind, s.arg, body))
    return p.frame(out, FIXTURE_BOUNDARY)


def context(sb: NginxSandbox, url: str, address: str | None) -> FixContext:
    facts = parse_evidence(evidence("old-php-socket", sb.dump(), url, address), FIXTURE_BOUNDARY, window_seconds=10**9)
    return FixContext("corpus", facts, classify(facts), {})


def apply(sb: NginxSandbox, plan: Plan) -> list[str]:
    """Write each planned edit as the journal would: only over exactly the bytes the plan read."""
    written = []
    for op in plan.ops:
        if isinstance(op, WriteFile):
            target = sb.path(op.path)
            assert target.read_bytes().decode() == op.before, f"{op.path}: before is not the file's bytes"
            target.write_bytes(op.after.encode())
            written.append(op.path)
    return written


def changed_lines(before: str, after: str) -> list[str]:
    return [
        ln
        for ln in difflib.unified_diff(before.split("\n"), after.split("\n"), lineterm="", n=0)
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


@pytest.mark.parametrize(
    ("case", "url", "address", "expect"), SITES, ids=[f"{c}-{u.split('/')[2]}" for c, u, _, _ in SITES]
)
def test_realign_on_real_configs(tmp_path: Path, case: str, url: str, address: str | None, expect: str) -> None:
    sb = NginxSandbox(case, tmp_path)
    assert sb.test().returncode == 0, sb.stubs
    before = {f: sb.path(f).read_bytes() for f in sb.case_files()}
    ctx = context(sb, url, address)
    assert "socket-mismatch" in ctx.diagnosis.ids, (ctx.diagnosis.ids, ctx.facts.web.site)
    plan = REGISTRY["realign-fastcgi-pass"]().plan(ctx)
    if expect.startswith("refuse:"):
        assert plan.escalate is not None and expect.removeprefix("refuse:") in plan.escalate, plan.render()
        assert {f: sb.path(f).read_bytes() for f in before} == before
        return
    assert plan.escalate is None and not plan.empty, plan.render()
    written = apply(sb, plan)
    test = sb.test(heal=False)
    assert test.returncode == 0, test.stderr
    for f, old in before.items():
        new = sb.path(f).read_bytes()
        if f not in written:
            assert new == old, f"{f} changed but is not in the plan"
            continue
        lines = changed_lines(old.decode(), new.decode())
        assert lines and all(("fastcgi_pass" in ln or "server" in ln) for ln in lines), lines
        assert len([ln for ln in lines if ln.startswith("+")]) == len([ln for ln in lines if ln.startswith("-")])
    after = context(sb, url, address)
    assert "socket-mismatch" not in after.diagnosis.ids, after.diagnosis.ids
    assert all(t.endpoint is not None and LIVE in str(t.endpoint) for t in after.facts.web.fastcgi_targets), [
        str(t.endpoint) for t in after.facts.web.fastcgi_targets
    ]


LADDER_SITES = [s for s in SITES if s[3] == "edit"]
# HestiaCP's http{} already sets fastcgi_buffer_size 256k, the ladder's cap: headers beyond it
# are the plugin's bug, and the fix says so instead of growing the buffers further
AT_CAP = {("n11-hestiacp", "raise-fastcgi-buffers")}


@pytest.mark.parametrize(
    ("case", "url", "address", "fix_id", "capture", "wanted"),
    [
        (c, u, a, fix_id, capture, wanted)
        for c, u, a, _ in LADDER_SITES
        for fix_id, capture, wanted in (
            ("raise-fastcgi-buffers", "big-headers-plugin", ("fastcgi_buffer", "fastcgi_busy_buffers_size")),
            ("raise-fastcgi-read-timeout", "short-read-timeout", ("fastcgi_read_timeout",)),
        )
    ],
    ids=[f"{c}-{f}" for c, _, _, _ in LADDER_SITES for f in ("buffers", "read-timeout")],
)
def test_php_location_edits_on_real_configs(
    tmp_path: Path, case: str, url: str, address: str | None, fix_id: str, capture: str, wanted: tuple[str, ...]
) -> None:
    """Directives added to every PHP location of the site (several in one file too), each step
    of the buffer ladder on top of the last: nginx accepts each, only those lines change."""
    sb = NginxSandbox(case, tmp_path)
    assert sb.test().returncode == 0, sb.stubs
    before = {f: sb.path(f).read_bytes() for f in sb.case_files()}
    # the capture's log is declared by no site of the case, so its lines count as this site's
    facts = parse_evidence(evidence(capture, sb.dump(), url, address), FIXTURE_BOUNDARY, window_seconds=10**9)
    # the corpus has no short timeout to find: ask for one longer than any of theirs (360s)
    params = {"seconds": 900} if fix_id == "raise-fastcgi-read-timeout" else {}
    ctx = FixContext("corpus", facts, classify(facts), params)
    fix = REGISTRY[fix_id]()
    assert fix.guard(ctx), ctx.diagnosis.ids
    steps = fix.steps(ctx)
    plan, step = next(steps), 0
    if (case, fix_id) in AT_CAP:
        assert plan.escalate is not None and "256k cap" in plan.escalate, plan.render()
        return
    while True:
        assert plan.escalate is None and not plan.empty, plan.render()
        apply(sb, plan)
        test = sb.test(heal=False)
        assert test.returncode == 0, (step, test.stderr)
        step += 1
        try:
            plan = steps.send(ProbeResult(ok=False, status=502))  # climb the whole ladder
        except StopIteration:
            break
    for f, old in before.items():
        lines = changed_lines(old.decode(), sb.path(f).read_bytes().decode())
        assert all(any(w in ln for w in wanted) for ln in lines), (f, lines)
    anchors = {(t.via or t.directive).file for t in ctx.facts.web.fastcgi_targets}
    assert anchors and all(sb.path(f).read_bytes() != before[f] for f in anchors if f in before)


# ---- PHP-FPM: fix502's reading of each pool against php-fpm -tt's, and pm.max_children edits -------
# case, its php-fpm.conf, the prefix its relative paths are read against (php-fpm -p)
FPM_CASES = [
    ("f01-debian", "/etc/php/8.2/fpm/php-fpm.conf", None),
    ("f02-trellis", "/etc/php/8.2/fpm/php-fpm.conf", None),
    ("f03-wordops", "/etc/php/8.2/fpm/php-fpm.conf", None),
    ("f04-docker-library", "/usr/local/etc/php-fpm.conf", "/usr/local"),
    ("f05-bastille-freebsd", "/usr/local/etc/php-fpm.conf", "/usr/local"),
    ("f06-hestiacp", "/etc/php/8.2/fpm/php-fpm.conf", None),
    ("f08-centminmod", "/usr/local/etc/php-fpm.conf", "/usr/local"),
]
_TT_POOL = re.compile(r"NOTICE: \[([^\]]+)\]$")
_TT_KEY = re.compile(r"NOTICE: \t([a-z_.]+) = (.*)$")


def fpm_files(sb: NginxSandbox, conf: str, prefix: str | None) -> dict[str, str]:
    """The case's FPM files in the order FPM reads them: the main file, then each include glob."""
    files = {conf: sb.path(conf).read_text()}
    for d in p.parse_fpm_ini(dict(files)).includes:
        pattern = d.args[0] if d.args[0].startswith("/") else f"{prefix or '/usr'}/{d.args[0]}"
        for f in sorted(sb.root.glob(pattern.lstrip("/"))):
            files["/" + str(f.relative_to(sb.root))] = f.read_text()
    return files


def effective(sb: NginxSandbox, conf: str, prefix: str | None) -> dict[str, dict[str, str]]:
    """What the real php-fpm -tt says each pool's settings are (its own merge of every file)."""
    # -tt prints at log level notice to the error_log: a wrapper read only by this check includes
    # the case's file, then sends that to stderr (a case may set warning, or a log file)
    sb.path("/tmp/tt.conf").write_text(f"include = {conf}\n[global]\nlog_level = notice\nerror_log = /proc/self/fd/2\n")
    res = sb.fpm("-tt", *(["-p", prefix] if prefix else []), "-y", "/tmp/tt.conf")
    assert res.returncode == 0, res.stderr[-500:]
    printed = res.stderr
    pools: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in printed.splitlines():
        if m := _TT_POOL.search(line):
            current = pools.setdefault(m.group(1), {}) if m.group(1) != "global" else None
        elif (m := _TT_KEY.search(line)) and current is not None:
            current.setdefault(m.group(1), m.group(2))
    return pools


@pytest.mark.parametrize(("case", "conf", "prefix"), FPM_CASES, ids=[c for c, _, _ in FPM_CASES])
def test_pool_sizes_as_fpm_reads_them_and_edited_where_they_take_effect(
    tmp_path: Path, case: str, conf: str, prefix: str | None
) -> None:
    sb = NginxSandbox(case, tmp_path)
    for _ in range(10):  # pool users and log directories the case names but does not ship
        res = sb.fpm("-t", *(["-p", prefix] if prefix else []), "-y", conf)
        if res.returncode == 0 or not _fpm_stub(sb, res.stderr):
            break
    real = effective(sb, conf, prefix)
    ini = p.parse_fpm_ini(fpm_files(sb, conf, prefix))
    assert sorted(real) == sorted(pool.name for pool in ini.pools)
    for pool in ini.pools:
        assert str(pool.max_children) == real[pool.name]["pm.max_children"], pool.name
        assert pool.user == real[pool.name]["user"], pool.name
    target = ini.pools[0]
    service = FpmService("8.2", "php8.2-fpm", "/usr/sbin/php-fpm8.2", pools=ini.pools, state="running")
    plan = SizeMaxChildren()._edit(
        PoolEndpoint(service, target, Endpoint("unix", "/run/x.sock")), fpm_files(sb, conf, prefix), 77, []
    )
    assert plan.escalate is None, plan.render()
    apply(sb, plan)
    assert effective(sb, conf, prefix)[target.name]["pm.max_children"] == "77"


def _fpm_stub(sb: NginxSandbox, stderr: str) -> bool:
    if m := re.search(r"\[pool [^\]]+\] cannot get uid for user '([^']+)'", stderr):
        sb._user(m.group(1))
        return True
    if m := re.search(r"\[pool [^\]]+\] cannot get gid for group '([^']+)'", stderr):
        sb._group(m.group(1))
        return True
    if m := re.search(r"the (?:chdir path|prefix) '([^']+)' does not exist", stderr):
        sb._dir(m.group(1))
        return True
    if m := re.search(
        r"(?:failed to open (?:error_log|slowlog|access log) |create or open slowlog)\(([^)]+)\)", stderr
    ):
        sb._file(m.group(1))
        return True
    return False
