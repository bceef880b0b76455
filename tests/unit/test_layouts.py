"""A running FPM master whose layout fix502 does not read yet (RHEL's /etc/php-fpm.conf, Remi,
cPanel, Plesk) must never be diagnosed as "FPM down": that is how a wrong restart happens.  It is
reported as running with unknown pools, and said so in the notes."""

from __future__ import annotations

import pytest

from remediations.diagnosis import classify
from remediations.facts import layouts
from remediations.facts.script import parse_evidence
from remediations.fixes import REGISTRY
from tests.unit.evidence_text import FIXTURE_BOUNDARY
from tests.unit.test_fix_plans import EVIDENCE, context

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


# ---- the simulated RHEL, cPanel and Plesk hosts (tests/lab/layouts.py), captured by
# tests/lab/capture_layouts.py: what discovery reads from the running system ----------------------
LAYOUTS = {
    "rhel": ("php-fpm", "/etc/php-fpm.conf", "/usr/sbin/php-fpm8.2", "8.2", "www", "/run/php-fpm/www.sock", "apache"),
    "cpanel": (
        "ea-php81-php-fpm",
        "/opt/cpanel/ea-php81/root/etc/php-fpm.conf",
        "/opt/cpanel/ea-php81/root/usr/sbin/php-fpm",
        "8.1",
        "web81_lab_test",
        "/opt/cpanel/ea-php81/root/usr/var/run/php-fpm/web81_lab_test.sock",
        "labacct",
    ),
    "plesk": (
        "plesk-php81-fpm",
        "/opt/plesk/php/8.1/etc/php-fpm.conf",
        "/opt/plesk/php/8.1/sbin/php-fpm",
        "8.1",
        "web82.lab.test",
        "/var/www/vhosts/system/web82.lab.test/php-fpm.sock",
        "labsub",
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_running_layout_is_read_from_its_master(layout: str) -> None:
    service, conf, binary, version, pool, sock, user = LAYOUTS[layout]
    ctx = context({"capture": f"layout-{layout}-healthy"})
    (svc,) = ctx.facts.fpm
    assert (svc.layout, svc.service, svc.global_file, svc.binary, svc.version) == (
        layout,
        service,
        conf,
        binary,
        version,
    )
    assert svc.running and svc.master_pid is not None and svc.binary_trusted and svc.service_problem is None
    assert svc.service_source == "the init script or unit that names its config"
    assert [(p.name, p.listen, p.user) for p in svc.pools] == [(pool, sock, user)]
    assert svc.config_test_argv == (binary, "-t", "-y", conf)
    assert ctx.diagnosis.ids == ["healthy"]
    assert not any("does not read yet" in n or "pools unknown" in n for n in ctx.facts.notes), ctx.facts.notes


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_killed_layout_master_is_started_with_its_own_service(layout: str) -> None:
    service, conf, binary, _, _, sock, _ = LAYOUTS[layout]
    ctx = context({"capture": f"layout-{layout}-fpm-killed"})
    (svc,) = ctx.facts.fpm
    assert svc.state == "stopped" and svc.pid_file_stale and ctx.diagnosis.ids[0] == "fpm-down"
    plan = REGISTRY["restart-fpm"]().plan(ctx)
    assert [op.describe() for op in plan.ops] == [
        f"remove {sock}: stale socket of a dead FPM master",
        f"remove {svc.pid_file}: pid file names no running master",
        f"test {binary} -t -y {conf}: never start FPM on a configuration it rejects",
        f"service {service} start: PHP-FPM is not running",
    ]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_old_socket_on_a_layout_is_a_mismatch_and_the_site_is_realigned(layout: str) -> None:
    service, _, _, _, pool, sock, _ = LAYOUTS[layout]
    ctx = context({"capture": f"layout-{layout}-old-socket"})
    assert "fpm-down" not in ctx.diagnosis.ids and ctx.diagnosis.ids[0] == "socket-mismatch", ctx.diagnosis.ids
    plan = REGISTRY["realign-fastcgi-pass"]().plan(ctx)
    assert plan.escalate is None, plan.render()
    assert f"→ unix:{sock} (pool {pool} of {service})" in plan.render()
    assert f"+\t\tfastcgi_pass unix:{sock};" in plan.diffs()


def test_without_an_init_script_naming_it_the_service_is_unknown_and_not_started() -> None:
    gone = ("unit=/etc/init.d/php-fpm|conf|/usr/sbin/php-fpm8.2\n", "")
    ctx = context({"capture": "layout-rhel-fpm-killed", "patch": [gone]})
    (svc,) = ctx.facts.fpm
    assert svc.service_problem == "no init script or systemd unit names its config or binary"
    assert any("it is not restarted by guess" in n for n in ctx.facts.notes)
    plan = REGISTRY["restart-fpm"]().plan(ctx)
    assert plan.escalate is not None and "its service is unknown" in plan.escalate and not plan.ops


def test_a_layout_binary_someone_else_can_write_is_never_run() -> None:
    writable = (
        "binary_stat=0|755|directory|/opt/cpanel/ea-php81/root/usr/sbin\n",
        "binary_stat=0|777|directory|/opt/cpanel/ea-php81/root/usr/sbin\n",
    )
    ctx = context({"capture": "layout-cpanel-fpm-killed", "patch": [writable]})
    (svc,) = ctx.facts.fpm
    assert not svc.binary_trusted and "group- or world-writable" in (svc.binary_problem or "")
    plan = REGISTRY["restart-fpm"]().plan(ctx)
    assert plan.escalate is not None and "not run" in plan.escalate and not plan.ops


def test_a_config_the_master_names_but_nobody_can_read_is_unknown_pools_not_down() -> None:
    """As the script prints it when php-fpm.conf is unreadable: neither it nor the pools it includes."""
    text = (EVIDENCE / "layout-rhel-healthy.txt").read_text()
    for path in ("/etc/php-fpm.conf", "/etc/php-fpm.d/www.conf"):
        head = f"\n==fix502:{FIXTURE_BOUNDARY} file {path}==\n"
        start = text.index(head)
        text = text[:start] + text[text.index("\n==fix502:", start + len(head)) :]
    facts = parse_evidence(text, FIXTURE_BOUNDARY, window_seconds=10**9)
    (svc,) = facts.fpm
    assert svc.running and svc.pools == [] and svc.pools_problem == "/etc/php-fpm.conf could not be read"
    assert "php-fpm: pools unknown: /etc/php-fpm.conf could not be read" in facts.notes
    assert "fpm-down" not in classify(facts).ids


# ---- the pure parts, on the layouts the lab cannot simulate (systemd, Remi, Bitnami) -------------
@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ("/etc/opt/remi/php81/php-fpm.conf", layouts.Layout("remi", "8.1", "php81-php-fpm")),
        ("/opt/bitnami/php/etc/php-fpm.conf", layouts.Layout("bitnami", None, "php-fpm")),
        ("/opt/plesk/php/8.3/etc/php-fpm.conf", layouts.Layout("plesk", "8.3", "plesk-php83-fpm")),
        ("/usr/local/etc/php-fpm.conf", layouts.Layout("other", None, None)),
    ],
)
def test_layout_of_a_config_path(conf: str, expected: layouts.Layout) -> None:
    assert layouts.layout_of(conf) == expected


def test_version_when_the_path_says_nothing_is_the_binarys_own() -> None:
    rhel = layouts.layout_of("/etc/php-fpm.conf")
    assert layouts.version_of(rhel, "/usr/sbin/php-fpm", "PHP 8.3.14 (fpm-fcgi) (built: Nov 19 2024)") == "8.3"
    assert layouts.version_of(rhel, "/usr/sbin/php-fpm", None) == "unknown"


def test_on_systemd_the_unit_whose_cgroup_holds_the_master_wins() -> None:
    units = layouts.parse_units(["/etc/init.d/php-fpm|conf|/usr/sbin/php-fpm"])
    rhel = layouts.layout_of("/etc/php-fpm.conf")
    name, how = layouts.choose_service(rhel, "systemd", ["/system.slice/php-fpm-custom.service"], units)
    assert (name, how) == ("php-fpm-custom", "the systemd unit whose cgroup holds the master")
    # without systemd running, a cgroup line says nothing (a lab host inherits its starter's)
    assert layouts.choose_service(rhel, "sysv", ["/system.slice/ssh.service"], units)[0] == "php-fpm"


def test_two_init_files_naming_the_config_are_for_a_person() -> None:
    units = layouts.parse_units(["/etc/init.d/fpm-a|conf|", "/etc/init.d/fpm-b|conf+binary|", "/etc/init.d/-x|conf|"])
    name, how = layouts.choose_service(layouts.layout_of("/srv/php-fpm.conf"), "sysv", [], units)
    assert name is None and how == "several init scripts or units could own it: fpm-a, fpm-b"


def test_a_unit_that_starts_fpm_with_another_config_does_not_own_the_master() -> None:
    """Debian's php8.2-fpm.service names the same binary but its own php-fpm.conf: not RHEL's master's."""
    units = layouts.parse_units(["/lib/systemd/system/php8.2-fpm.service|+binary+otherconf|/usr/sbin/php-fpm8.2"])
    name, how = layouts.choose_service(layouts.layout_of("/srv/php-fpm.conf"), "sysv", [], units)
    assert name is None and how == "no init script or systemd unit names its config or binary"
    units = layouts.parse_units(["/etc/init.d/fpm-x|+binary|/usr/sbin/php-fpm8.2"])
    assert layouts.choose_service(layouts.layout_of("/srv/php-fpm.conf"), "sysv", [], units)[0] == "fpm-x"
