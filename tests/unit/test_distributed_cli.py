"""``--executor`` refuses bad input before anything happens: one line, exit 2, no host contacted,
nothing queued.  The real CLI in a subprocess against a real redis-server on loopback.

The inventory points at 127.0.0.1 port 1, where nothing listens: a case wrongly accepted would get
as far as "unreachable" (exit 3) or hang waiting for a worker, not exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.unit.test_bad_input import assert_one_line, cli
from tests.unit.test_distributed_state import free_port, redis_server


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with redis_server() as u:
        yield u


@pytest.fixture
def inv(tmp_path: Path) -> str:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    web61:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n")
    return str(path)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("http://127.0.0.1:6379/0", "expected redis://HOST:PORT/DB"),
        ("127.0.0.1:6379", "expected redis://HOST:PORT/DB"),
        ("redis://127.0.0.1:{dead}/0", "cannot reach Redis"),
        ("redis://:hunter2pw@127.0.0.1:{dead}/0", "cannot reach Redis"),
        ("redis://127.0.0.1:{dead}/notadb", "cannot reach Redis"),
    ],
)
@pytest.mark.parametrize("command", ["fix-502", "diagnose"])
def test_bad_or_unreachable_url(inv: str, command: str, value: str, said: str) -> None:
    target = value.format(dead=free_port())
    args = [command, "--host", "web61", "--inventory", inv, "--executor", target]
    line = assert_one_line(cli(*args, *(["--yes"] if command == "fix-502" else [])), said)
    assert "hunter2pw" not in line


def test_no_worker_is_refused_and_nothing_is_queued(inv: str, url: str) -> None:
    client = redis.Redis.from_url(url)
    client.flushdb()
    assert_one_line(
        cli("fix-502", "--host", "web61", "--inventory", inv, "--yes", "--executor", url), "no fix502 worker"
    )
    assert not [k for k in client.keys("*") if not k.startswith(b"_kombu")]  # no run state, no task queued
    assert client.llen("fix502") == 0


def test_executor_needs_yes_to_change_hosts(inv: str, url: str) -> None:
    assert_one_line(cli("fix-502", "--host", "web61", "--inventory", inv, "--executor", url), "pass --yes")


def test_worker_refuses_bad_options(inv: str, url: str) -> None:
    assert_one_line(cli("worker", "--executor", "http://x", "--inventory", inv), "expected redis://")
    assert_one_line(cli("worker", "--executor", url, "--inventory", inv, "--concurrency", "zero"), "--concurrency")
    assert_one_line(cli("worker", "--executor", url, "--inventory", "/nonexistent.yml"), "nonexistent")
