"""The WP_MEMORY_LIMIT edit on the real captured wp-config.php, in the shapes the lab does not build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from remediations.account import classify_account
from remediations.facts.account import parse_account
from remediations.fixes.base import FixContext
from remediations.fixes.raise_wp_memory_limit import RaiseWpMemoryLimit, to_bytes
from remediations.plan import WriteFile
from tests.unit.evidence_text import FIXTURE_BOUNDARY

CAPTURE = Path(__file__).parent / "fixtures" / "account" / "memory-hungry-plugin.txt"
CONFIG = "/var/www/wordpress/wp-config.php"


def context(config: str | None = None) -> FixContext:
    facts = parse_account(CAPTURE.read_text(), FIXTURE_BOUNDARY, window_seconds=10**9)
    if config is not None:
        facts = dataclasses.replace(facts, files={**facts.files, CONFIG: config})
    return FixContext("case", facts, classify_account(facts))


def edit(ctx: FixContext) -> WriteFile:
    plan = RaiseWpMemoryLimit().plan(ctx)
    (op,) = plan.ops
    assert isinstance(op, WriteFile)
    return op


def test_the_capture_is_a_500_with_the_memory_line_as_evidence() -> None:
    ctx = context()
    assert ctx.diagnosis.ids == ["not-502"]
    assert any("Allowed memory size of 134217728 bytes exhausted" in e.line for e in ctx.diagnosis.causes[0].evidence)
    assert ctx.facts.account is not None and ctx.facts.wordpress.config_writable
    assert RaiseWpMemoryLimit().guard(ctx)


def test_only_the_new_line_is_added_and_the_file_is_otherwise_byte_for_byte() -> None:
    ctx = context()
    op = edit(ctx)
    assert op.before == ctx.facts.files[CONFIG]
    line = "define( 'WP_MEMORY_LIMIT', '256M' ); // fix502: PHP ran out at 128M (Allowed memory size ... exhausted)\n"
    assert op.after.replace(line, "", 1) == op.before
    assert op.after.index(line) == op.before.index("/* That's all, stop editing!")


def test_an_existing_define_gets_a_new_value_in_place() -> None:
    text = "<?php\r\ndefine('WP_MEMORY_LIMIT', '64M'); # mine\r\nrequire_once ABSPATH . 'wp-settings.php';\r\n"
    op = edit(context(text))
    assert op.after == text.replace("'64M'", "'256M'")


def test_crlf_files_keep_their_line_ends_and_the_define_goes_before_wp_settings() -> None:
    text = "<?php\r\n$table_prefix = 'wp_';\r\nrequire_once ABSPATH . 'wp-settings.php';\r\n"
    op = edit(context(text))
    assert op.after == text.replace(
        "require_once",
        "define( 'WP_MEMORY_LIMIT', '256M' ); // fix502: PHP ran out "
        "at 128M (Allowed memory size ... exhausted)\r\nrequire_once",
    )


def test_past_512m_it_is_the_code_not_the_limit() -> None:
    plan = RaiseWpMemoryLimit().plan(context("<?php\ndefine( 'WP_MEMORY_LIMIT', '512M' );\n"))
    assert plan.empty and "the code needs a look" in plan.summary
    assert to_bytes("256M") == 256 * 1024**2 and to_bytes("1G") == 1024**3 and to_bytes("lots") is None


def test_nowhere_to_put_it_is_a_noop_not_a_guess() -> None:
    plan = RaiseWpMemoryLimit().plan(context("<?php\n$x = 1;\n"))
    assert plan.empty and "no place" in plan.summary
