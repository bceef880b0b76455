"""The WordPress-level fixes on a root host (issue 15, ``--least-privilege``), from real captures:
lab host web140 with root as the login (tests/lab/capture_root_wp.py).  The root evidence reads the
same drop-ins, page caches, site logs and wp-config.php as the account evidence, into the same
``facts.wordpress`` fields, so clear-page-cache and raise-wp-memory-limit plan there as they do
from the account — and the root diagnosis names what they answer."""

from __future__ import annotations

from pathlib import Path

from remediations import account, redact
from remediations.cli import fix_params
from remediations.diagnosis import classify
from remediations.facts.model import HostFacts
from remediations.facts.script import parse_evidence
from remediations.fixes import REGISTRY
from remediations.fixes.base import FixContext
from remediations.fixes.clear_page_cache import OFF, ClearPageCache
from remediations.fixes.raise_wp_memory_limit import RaiseWpMemoryLimit
from remediations.inventory import Host
from remediations.plan import MakeDir, Rename, WriteFile
from remediations.playbook import FixStep, load_playbook
from remediations.runner import HostRun, RunOptions
from tests.unit.evidence_text import FIXTURE_BOUNDARY

CAPTURES = Path(__file__).parent / "fixtures" / "evidence"
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "fix-502.yml"
WC = "/var/www/wordpress/wp-content"
CONFIG = "/var/www/wordpress/wp-config.php"


def facts_of(name: str) -> HostFacts:
    return parse_evidence((CAPTURES / f"root-wp-{name}.txt").read_text(), FIXTURE_BOUNDARY, window_seconds=10**9)


def context(name: str) -> FixContext:
    facts = facts_of(name)
    return FixContext("web140", facts, classify(facts))


def offered(ctx: FixContext, *, least_privilege: bool) -> list[str]:
    """The fixes the default playbook would run, in order, as the runner decides (guard, `when:`,
    and --least-privilege's WordPress-level filter)."""
    run = HostRun(Host("web140", "127.0.0.150"), load_playbook(PLAYBOOK, fix_params()), RunOptions(), "RUN")
    run.opt.least_privilege = least_privilege
    out = []
    for step in run.pb.steps:
        if not isinstance(step, FixStep):
            continue
        fix = REGISTRY[step.fix_id]()
        if run._applies(step, fix, ctx) and (not run.wordpress_only or fix.id in account.WORDPRESS_LEVEL):
            out.append(fix.id)
    return out


def test_a_cache_dropin_crash_is_named_with_the_dropin_and_moved_aside_first() -> None:
    ctx = context("cache-dropin")
    assert ctx.facts.account is None  # read as root: no account view, the same WordPress fields
    assert ctx.facts.wordpress.dropins.keys() == {"object-cache.php"} and ctx.facts.wordpress.wp_cache is None
    crash = ctx.diagnosis.causes[0]
    assert crash.id == "worker-crash", ctx.diagnosis.ids
    assert f"{WC}/object-cache.php" in [e.source for e in crash.evidence] and "drop-in" in crash.summary
    assert offered(ctx, least_privilege=True)[0] == "clear-page-cache"
    plan = ClearPageCache().plan(ctx)
    assert plan.ops == [
        Rename(
            f"{WC}/object-cache.php", f"{WC}/object-cache.php{OFF}", "drop-in object-cache.php runs before any plugin"
        )
    ]
    assert CONFIG not in ctx.facts.files  # no memory line, no advanced-cache.php: wp-config.php is not opened


def test_a_page_cache_on_a_root_host_is_moved_aside_and_refillable() -> None:
    ctx = context("stale-page-cache+segfault-plugin")
    assert ctx.facts.wordpress.caches == {"cache/supercache": ("dir", 1)}
    assert ctx.diagnosis.ids[0] == "worker-crash"
    assert offered(ctx, least_privilege=True) == ["clear-page-cache", "bisect-plugins", "fallback-theme"]
    page = f"{WC}/cache/supercache"
    assert [type(op) for op in ClearPageCache().plan(ctx).ops] == [Rename, MakeDir]
    assert ClearPageCache().plan(ctx).ops[0] == Rename(page, page + OFF, "a page cache can keep serving a broken page")


def test_memory_exhaustion_on_a_root_host_plans_the_wp_memory_limit_edit_with_secrets_masked() -> None:
    ctx = context("memory-hungry-plugin")
    assert ctx.diagnosis.ids == ["not-502"]
    [cause] = ctx.diagnosis.causes
    assert any("Allowed memory size of 134217728 bytes exhausted" in e.line for e in cause.evidence)
    # the site's own log is quoted, never read as a web server or FPM line
    assert not any("Allowed memory" in ln.text for ln in ctx.facts.logs) and ctx.facts.wordpress.logs
    assert offered(ctx, least_privilege=True) == ["raise-wp-memory-limit"]
    assert offered(ctx, least_privilege=False)[0] == "raise-wp-memory-limit"  # offered to root runs too
    (op,) = RaiseWpMemoryLimit().plan(ctx).ops
    assert isinstance(op, WriteFile) and op.path == CONFIG and op.before == ctx.facts.files[CONFIG]
    added = [ln for ln in op.after.split("\n") if ln not in op.before.split("\n")]
    assert len(added) == 1 and added[0].startswith("define( 'WP_MEMORY_LIMIT', '256M' );"), added
    password = next(ln for ln in op.before.splitlines() if "DB_PASSWORD" in ln).split("'")[3]
    # parsing taught the redactor this host's values: whatever of the file is printed is masked
    assert len(password) > 8 and password not in redact.redact(op.before) + redact.redact(op.diff())


def test_least_privilege_offers_only_wordpress_level_fixes_where_root_would_do_more() -> None:
    ctx = context("cache-dropin")
    as_root = offered(ctx, least_privilege=False)
    assert "clear-page-cache" in as_root and not set(as_root) <= account.WORDPRESS_LEVEL, as_root
    assert set(offered(ctx, least_privilege=True)) <= account.WORDPRESS_LEVEL
