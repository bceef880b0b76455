"""A running FPM master whose layout fix502 does not read yet (RHEL's /etc/php-fpm.conf, Remi,
cPanel, Plesk) must never be diagnosed as "FPM down": that is how a wrong restart happens.  It is
reported as running with unknown pools, and said so in the notes."""

from __future__ import annotations

from remediations.fixes import REGISTRY
from tests.unit.test_fix_plans import context

RHEL_MASTER = [
    "     46      42 www-data       2  5004 nginx           nginx: worker process\n",
    "     46      42 www-data       2  5004 nginx           nginx: worker process\n"
    "     77       1 root          30  9120 php-fpm         php-fpm: master process (/etc/php-fpm.conf)\n"
    "     78      77 apache        30 12000 php-fpm         php-fpm: pool www\n",
]


def test_an_unread_master_is_running_not_down() -> None:
    ctx = context({"capture": "fpm-stopped", "patch": [RHEL_MASTER]})
    assert "fpm-down" not in ctx.diagnosis.ids, ctx.diagnosis.ids
    other = next(s for s in ctx.facts.fpm if s.global_file == "/etc/php-fpm.conf")
    assert other.running and other.master_pid == 77 and not other.binary_trusted
    assert any("/etc/php-fpm.conf, a layout fix502 does not read yet" in n for n in ctx.facts.notes)
    assert not REGISTRY["restart-fpm"]().guard(ctx)


def test_without_it_the_stopped_debian_fpm_is_down() -> None:
    ctx = context({"capture": "fpm-stopped"})
    assert ctx.diagnosis.ids[0] == "fpm-down"


def test_a_web_user_process_titled_like_a_master_does_not_hide_fpm_down() -> None:
    forged = [RHEL_MASTER[0], RHEL_MASTER[1].replace("77       1 root    ", "77       1 www-data")]
    ctx = context({"capture": "fpm-stopped", "patch": [forged]})
    assert ctx.diagnosis.ids[0] == "fpm-down", ctx.diagnosis.ids
    assert not any(s.global_file == "/etc/php-fpm.conf" for s in ctx.facts.fpm)
