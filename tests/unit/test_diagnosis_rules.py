"""The classifier's building blocks: signatures, address matching, permissions, memory, checks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from remediations.diagnosis import (
    classify,
    memory_budget,
    read_signal,
    web_user_can_connect,
)
from remediations.endpoint import Endpoint
from remediations.facts.model import FpmPool, LogLine, SocketFile
from tests.unit.corpus_builder import CORPUS, build_facts

CAPTURED = CORPUS / "captured"


def _lines(name: str) -> list[str]:
    return [ln for ln in (CAPTURED / name).read_text().splitlines() if ln and not ln.startswith("#")]


def _kind(text: str) -> str | None:
    s = read_signal(LogLine("x", text, None))
    return None if s is None else s.kind


# ---- signatures on the captured lines ---------------------------------------------------------
def test_every_captured_nginx_entry_is_recognised() -> None:
    firsts = [ln for ln in _lines("nginx-error.log") if ln.startswith("2026/")]
    kinds = [_kind(ln) for ln in firsts]
    assert None not in kinds, [ln for ln, k in zip(firsts, kinds, strict=True) if k is None]


@pytest.mark.parametrize(
    ("needle", "kind", "errno", "target"),
    [
        ("*5 connect()", "connect", 2, "/tmp/dl/run/php8.1-fpm.sock"),
        ("*7 connect()", "connect", 111, "127.0.0.211:9001"),
        ("*9 connect()", "connect", 13, "/tmp/dl/run/locked.sock"),
        ("*29 connect()", "connect", 111, "/tmp/dl/run/php8.2-fpm.sock"),
        ("*53 connect()", "connect", 11, "/tmp/dl/run/small.sock"),
        ("*13 recv()", "crash-reset", None, "/tmp/dl/run/php8.2-fpm.sock"),
        ("prematurely closed", "crash-reset", None, "/tmp/dl/run/fake.sock"),
        ("too big header", "header", None, None),
        ("*19 upstream timed out", "slow", None, "/tmp/dl/run/php8.2-fpm.sock"),
    ],
)
def test_nginx_signatures(needle: str, kind: str, errno: int | None, target: str | None) -> None:
    line = next(ln for ln in _lines("nginx-error.log") if needle in ln)
    s = read_signal(LogLine("nginx", line, None))
    assert s is not None
    assert (s.kind, s.errno, s.target, s.proxy) == (kind, errno, target, False)


def test_nginx_proxy_pass_failure_is_marked_proxy() -> None:
    line = next(ln for ln in _lines("nginx-error.log") if "*11 connect()" in ln)
    s = read_signal(LogLine("nginx", line, None))
    assert s is not None and s.proxy and s.target == "127.0.0.212:8099"


@pytest.mark.parametrize(
    ("needle", "kind", "pid", "sig"),
    [
        ("child 16142 exited on signal 11", "crash", 16142, 11),
        ("child 16661 exited on signal 9", "crash", 16661, 9),
        ("child 16203 exited on signal 15", "exit", 16203, 15),
        ("child 16203, script", "timeout", 16203, None),
        ("server reached pm.max_children", "exhausted", None, None),
        ("failed processes threshold", "crash", None, None),
    ],
)
def test_fpm_signatures(needle: str, kind: str, pid: int | None, sig: int | None) -> None:
    line = next(ln for ln in _lines("php8.2-fpm.log") if needle in ln)
    s = read_signal(LogLine("fpm", line, None))
    assert s is not None and (s.kind, s.pid, s.signal) == (kind, pid, sig)


def test_fpm_notices_are_not_signals() -> None:
    for line in _lines("php8.2-fpm.log"):
        if "NOTICE:" in line and "said into stderr" not in line:
            assert read_signal(LogLine("fpm", line, None)) is None, line


@pytest.mark.parametrize(
    ("needle", "kind", "errno", "proxy"),
    [
        ("(2)No such file or directory: AH02454", "connect", 2, False),
        ("(13)Permission denied: AH02454", "connect", 13, False),
        ("AH00957: FCGI", "connect", 111, False),
        ("AH00957: http", "connect", 111, True),
        ("AH01114", "connect", None, True),
        ("AH01067", "crash-reset", None, False),
        ("(104)Connection reset by peer", "crash-reset", None, False),
        ("(70007)", "slow", None, False),
        ("AH01071", "fatal", None, False),
    ],
)
def test_apache_signatures(needle: str, kind: str, errno: int | None, proxy: bool) -> None:
    line = next(ln for ln in _lines("apache-error.log") if needle in ln)
    s = read_signal(LogLine("apache", line, None))
    assert s is not None and (s.kind, s.errno, s.proxy) == (kind, errno, proxy)


def test_kernel_oom_lines_of_php_fpm_are_crashes_and_others_are_not() -> None:
    for line in _lines("kernel-oom.txt"):
        s = read_signal(LogLine("dmesg", line, None))
        assert s is not None and s.kind == "crash" and s.pid == 4242
    mysql = "[Sun Nov 22 01:40:12 2026] Out of memory: Killed process 777 (mariadbd) total-vm:1kB"
    assert read_signal(LogLine("dmesg", mysql, None)) is None


# ---- addresses and permissions ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("listen", "kind", "address", "ok"),
    [
        ("/run/php/php8.2-fpm.sock", "unix", "/run/php/php8.2-fpm.sock", True),
        ("/run/php/php8.2-fpm.sock", "unix", "/run/php/php8.1-fpm.sock", False),
        ("/run/php/php8.2-fpm.sock", "tcp", "127.0.0.1:9000", False),
        ("127.0.0.1:9000", "tcp", "127.0.0.1:9000", True),
        ("127.0.0.1:9000", "tcp", "localhost:9000", True),
        ("9000", "tcp", "127.0.0.1:9000", True),
        ("[::]:9000", "tcp", "127.0.0.1:9000", True),
        ("127.0.0.1:9000", "tcp", "127.0.0.1:9001", False),
        ("127.0.0.2:9000", "tcp", "127.0.0.1:9000", False),
    ],
)
def test_pool_listen_accepts(listen: str, kind: str, address: str, ok: bool) -> None:
    """The rules ask the pool's endpoint whether it accepts what the web server dials."""
    pool = FpmPool("www", "/etc/php/8.2/fpm/pool.d/www.conf", listen=listen)
    assert pool.endpoint is not None
    assert pool.endpoint.accepts(Endpoint(kind, address)) is ok  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("owner", "group", "mode", "ok"),
    [
        ("www-data", "www-data", 0o660, True),
        ("root", "root", 0o660, False),
        ("root", "www-data", 0o660, True),
        ("root", "www-data", 0o640, False),
        ("root", "root", 0o666, True),
        ("www-data", "root", 0o600, True),
    ],
)
def test_web_user_can_connect(owner: str, group: str, mode: int, ok: bool) -> None:
    assert web_user_can_connect(SocketFile("/s", owner, group, mode, True), "www-data") is ok


# ---- memory rule ------------------------------------------------------------------------------
def _facts(**facts: Any) -> Any:
    return build_facts({"facts": facts})


def test_memory_rule_arithmetic_fits() -> None:
    # 5 children × 40000 kB × 1.25 = 250000 kB; RAM for PHP = 200000 + (30000 + 40000) = 270000 kB.
    m = memory_budget(_facts(fpm={"worker_rss_kb": [30000, 40000]}, resources={"mem_available_kb": 200000}))
    assert m["max_children"] == 5
    assert m["peak_worker_rss_kb"] == 40000
    assert m["needed_kb"] == 250000
    assert m["fpm_rss_kb"] == 70000
    assert m["available_to_php_kb"] == 270000
    assert m["verdict"] == "ok"
    assert m["suggested_max_children"] == 5  # floor(270000 / 50000)
    assert "5 × 40000 kB × 1.25 = 250000 kB fits in 270000 kB" in str(m["message"])


def test_memory_rule_arithmetic_over_suggests_a_lower_max_children() -> None:
    facts = _facts(fpm={"worker_rss_kb": [60000, 80000]}, resources={"mem_available_kb": 100000})
    m = memory_budget(facts)
    assert _table(facts)["memory"] == ("warning", m["message"])
    assert m["needed_kb"] == 500000  # 5 × 80000 × 1.25
    assert m["available_to_php_kb"] == 240000
    assert m["verdict"] == "over"
    assert m["suggested_max_children"] == 2  # floor(240000 / 100000)
    assert "lower pm.max_children to 2" in str(m["message"])


def test_memory_rule_sums_the_pools_of_running_services() -> None:
    m = memory_budget(_facts(fpm={"pools": ["www", "tcp", "small"], "worker_rss_kb": [10000]}))
    assert m["max_children"] == 5 + 2 + 1
    assert m["needed_kb"] == 100000  # 8 × 10000 × 1.25


def test_memory_rule_unknown_without_rss() -> None:
    m = memory_budget(_facts(fpm={"worker_rss_kb": []}))
    assert m["verdict"] == "unknown"
    assert "worker RSS" in str(m["message"])


def test_memory_rule_rounds_needed_up() -> None:
    m = memory_budget(_facts(fpm={"pools": ["locked"], "worker_rss_kb": [3]}, resources={"mem_available_kb": 1}))
    assert m["needed_kb"] == 4  # ceil(1 × 3 × 1.25)
    assert m["verdict"] == "ok"  # 1 + 3 available


# ---- checks table -----------------------------------------------------------------------------
CHECKS = {
    "web server",
    "FPM service",
    "config test",
    "socket alignment",
    "socket permissions",
    "logs",
    "memory",
    "WordPress",
    "probe",
}


def _table(facts: Any) -> dict[str, tuple[str, str]]:
    rows = classify(facts).checks
    assert all(status in ("ok", "warning", "error", "info", "unknown") for _c, status, _m in rows)
    out: dict[str, tuple[str, str]] = {}
    for check, status, message in rows:
        out.setdefault(check, (status, message))
    return out


def test_checks_table_healthy_host_is_all_ok() -> None:
    table = _table(_facts())
    assert set(table) == CHECKS
    assert {c: s for c, (s, _m) in table.items()} == dict.fromkeys(CHECKS, "ok")


def test_checks_table_names_the_broken_parts() -> None:
    facts = _facts(
        fpm={"state": "stopped", "pid_file_stale": True},
        web={"targets": [["unix:/tmp/dl/run/php8.1-fpm.sock", 20]]},
        local_probe={"status": 502},
        resources={"mem_available_kb": 1000},
    )
    table = _table(facts)
    assert table["FPM service"][0] == "error" and "stale pid file" in table["FPM service"][1]
    assert table["socket alignment"][0] == "error" and "nginx.conf:20" in table["socket alignment"][1]
    assert table["probe"] == ("error", "GET http://lab.test/ -> 502 (Server: nginx/1.22.1)")
    # FPM is down: no worker runs, so there is no RSS to check the budget with (said, not guessed).
    assert table["memory"] == ("info", "cannot check the memory budget: worker RSS unknown")


def test_checks_table_config_test_quotes_the_located_error() -> None:
    output = (
        "[22-Nov-2026 01:32:32] ERROR: failed to load configuration file '/tmp/dl/bad/php-fpm.conf'\n"
        "[22-Nov-2026 01:32:32] ERROR: [/tmp/dl/bad/pool.d/www.conf:6] unknown entry 'pm.max_childrens'\n"
    )
    table = _table(_facts(fpm={"config_test_ok": False, "config_test_output": output}))
    assert table["config test"][0] == "error"
    assert "[/tmp/dl/bad/pool.d/www.conf:6]" in table["config test"][1]


def test_checks_table_socket_permission_and_logs() -> None:
    line = next(ln for ln in _lines("nginx-error.log") if "*9 connect()" in ln)
    facts = _facts(
        web={"targets": [["unix:/tmp/dl/run/locked.sock", 26]]},
        fpm={"pools": ["locked"]},
        sockets=[{"path": "/tmp/dl/run/locked.sock", "owner": "root", "group": "root", "mode": "0660"}],
        logs=[{"source": "nginx", "text": line}],
    )
    table = _table(facts)
    assert table["socket permissions"] == (
        "error",
        "/tmp/dl/run/locked.sock root:root 0660, web user www-data cannot connect",
    )
    assert table["logs"] == ("warning", "1 recent lines; 1 connect")


def test_checks_table_wordpress_unreadable_is_a_warning() -> None:
    facts = _facts()
    facts.wordpress = replace(facts.wordpress, data_error="wp-config.php unreadable")
    assert _table(facts)["WordPress"] == ("warning", "/tmp/dl/www: wp-config.php unreadable")


def test_checks_table_names_an_unresolved_target_when_the_site_fails() -> None:
    failing = _table(_facts(web={"targets": [["$php_upstream", 17]]}, local_probe={"status": 502}))
    assert failing["socket alignment"] == (
        "unknown",
        "fastcgi_pass $php_upstream (/tmp/dl/nginx/nginx.conf:17) cannot be resolved from the configuration",
    )
    assert _table(_facts(web={"targets": [["$php_upstream", 17]]}))["socket alignment"][0] == "info"


def test_header_too_big_cites_the_buffer_lines_not_the_read_timeout() -> None:
    line = next(ln for ln in _lines("nginx-error.log") if "too big header" in ln)
    facts = _facts(logs=[{"source": "nginx", "text": line}])
    assert [d.name for d in facts.web.buffer_directives] == ["fastcgi_read_timeout"]  # the lab's nginx.conf:14
    cause = classify(facts).causes[0]
    assert cause.id == "header-too-big"
    assert [e.source for e in cause.evidence] == ["/tmp/dl/nginx/logs/error.log"]


# ---- ranking and gating -----------------------------------------------------------------------
def test_only_windowed_lines_count() -> None:
    """The classifier reads facts.logs only: the same host without the line is healthy."""
    line = next(ln for ln in _lines("nginx-error.log") if "too big header" in ln)
    assert classify(_facts(logs=[{"source": "nginx", "text": line}])).ids == ["header-too-big"]
    assert classify(_facts()).ids == ["healthy"]


def test_non_502_status_never_gets_502_causes() -> None:
    crash = next(ln for ln in _lines("php8.2-fpm.log") if "exited on signal 11" in ln)
    big = next(ln for ln in _lines("nginx-error.log") if "too big header" in ln)
    for status in (500, 503, 504, 404):
        d = classify(
            _facts(
                local_probe={"status": status},
                logs=[{"source": "fpm", "text": crash}, {"source": "nginx", "text": big}],
            )
        )
        assert d.ids == ["not-502"], status


def test_config_error_ranks_before_fpm_down_and_mismatch_before_down_when_fpm_runs() -> None:
    d = classify(_facts(fpm={"state": "stopped", "config_test_ok": False, "config_test_output": "x ERROR: y"}))
    assert d.ids[:2] == ["fpm-config-error", "fpm-down"]
    assert d.causes[0].score > d.causes[1].score
    d = classify(_facts(web={"targets": [["unix:/tmp/dl/run/php8.1-fpm.sock", 20]]}, local_probe={"status": 502}))
    assert d.ids == ["socket-mismatch"]


def test_evidence_is_capped_per_cause() -> None:
    line = next(ln for ln in _lines("nginx-error.log") if "*53 connect()" in ln)
    other = next(ln for ln in _lines("nginx-error.log") if "*54 connect()" in ln)
    d = classify(
        _facts(
            local_probe={"status": 502},
            logs=[{"source": "nginx", "text": t} for t in [line, other] * 10],
        )
    )
    assert d.ids == ["pool-exhausted"]
    assert len([e for e in d.causes[0].evidence if "connect()" in e.line]) == 2  # deduplicated
