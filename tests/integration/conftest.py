"""Integration tier: real lab hosts (see tests/lab/).  Needs root, unshare, nsenter and the Debian
packages that .ci/run installs; each test module uses its own host names so modules can share
one lab without stepping on each other."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import lab

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _need_root() -> None:
    if os.geteuid() != 0 or not Path("/usr/sbin/php-fpm8.2").exists():
        pytest.skip("integration tests need root and the lab packages (run .ci/run)")


def host(name: str, web: str = "nginx", login: str = "root") -> lab.LabHost:
    """A lab host rebuilt healthy for this test (fresh files, fresh database, fresh logs)."""
    index = int(name.removeprefix("web"))
    existing = lab.load_hosts().get(name)
    if existing is None or existing.web != web or existing.login != login or existing.init_pid is None:
        lab.up(names=[name], apache=[index] if web == "apache" else [], login=login)
        return lab.get(name)
    return lab.reset(name)


def fix502(*args: str, timeout: float = 600, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (invoke over tasks.py) as an on-call engineer would."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def inventory() -> str:
    return str(lab.inventory_path())


def snapshot(h: lab.LabHost, dirs: tuple[str, ...] = ("/etc", "/var/www")) -> dict[str, str]:
    """sha256 of every regular file (and symlink target) under the host's own trees."""
    roots = {"/etc": ["etc/nginx", "etc/php", "etc/apache2", "etc/ssh"], "/var/www": ["var/www"]}
    out: dict[str, str] = {}
    for d in dirs:
        for rel in roots.get(d, [d.lstrip("/")]):
            base = h.root / rel
            for p in sorted(base.rglob("*")):
                key = str(p.relative_to(h.root))
                if p.is_symlink():
                    out[key] = "link:" + os.readlink(p)
                elif p.is_file():
                    out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
                elif p.is_dir():
                    out[key] = "dir:" + oct(p.stat().st_mode)
    return out


def report(path: Path, name: str) -> dict[str, object]:
    data = json.loads(path.read_text())
    return data["hosts"][name]  # type: ignore[no-any-return]


@pytest.fixture
def tmp_report(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "report.json"
