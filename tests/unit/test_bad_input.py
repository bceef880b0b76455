"""Bad input ends as exit 2 with one error line naming where the problem is — never a traceback,
and never a host contacted.  Runs the real CLI (``python -m invoke``) in a subprocess, like a user.

The inventories point at 127.0.0.1 port 1, where nothing listens: if a case were wrongly accepted
the run would get as far as "unreachable" (exit 3), not exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD_HOST = "      ansible_host: 127.0.0.1\n      ansible_port: 1\n      ansible_user: root\n"
DIAG = "name: t\nsteps:\n  - diagnose: {window: 900}\n"


def inventory(body: str, name: str = "web61") -> str:
    return f"all:\n  hosts:\n    {name}:\n{body}"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], *must_contain: str) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == 2, (proc.returncode, out)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for text in must_contain:
        assert text in lines[0], (text, lines[0])
    return lines[0]


# --- inventories ---------------------------------------------------------------------------------
INVENTORIES = {
    "malformed-yaml": (inventory("      ansible_host: [127.0.0.1\n"), ":"),
    "port-not-int": (inventory("      ansible_host: 127.0.0.1\n      ansible_port: abc\n"), "ansible_port"),
    "port-list": (inventory("      ansible_host: 127.0.0.1\n      ansible_port: [22]\n"), "ansible_port"),
    "host-semicolon": (inventory('      ansible_host: "127.0.0.1; touch /tmp/pwned"\n'), "ansible_host"),
    "host-subshell": (inventory('      ansible_host: "$(touch /tmp/pwned)"\n'), "ansible_host"),
    "user-backtick": (
        inventory("      ansible_host: 127.0.0.1\n      ansible_user: 'ro`id`ot'\n"),
        "ansible_user",
    ),
    "user-newline": (
        inventory('      ansible_host: 127.0.0.1\n      ansible_user: "ro\\not"\n'),
        "ansible_user",
    ),
    "user-dash": (
        inventory('      ansible_host: 127.0.0.1\n      ansible_user: "-oProxyCommand=id"\n'),
        "ansible_user",
    ),
    "host-dash": (inventory('      ansible_host: "-oProxyCommand=touch /tmp/pwned"\n'), "ansible_host"),
    "name-dash": (inventory(GOOD_HOST, name='"-oProxyCommand=x"'), "-oProxyCommand=x"),
    "key-newline": (
        inventory(GOOD_HOST + '      ansible_ssh_private_key_file: "/tmp/k\\nid"\n'),
        "ansible_ssh_private_key_file",
    ),
    "key-dash": (
        inventory(GOOD_HOST + '      ansible_ssh_private_key_file: "-i/tmp/k"\n'),
        "ansible_ssh_private_key_file",
    ),
}


@pytest.mark.parametrize("case", sorted(INVENTORIES))
def test_bad_inventory_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    text, named = INVENTORIES[case]
    inv = tmp_path / "hosts.yml"
    inv.write_text(text)
    line = assert_one_line(cli("fix-502", "--limit", "all", "--inventory", str(inv), "--dry-run"), named)
    assert line.startswith(f"{inv}:"), line  # file:line:col
    assert line.split(":")[1].isdigit(), line
    # the same inventory is refused by rollback too, before any host is contacted
    assert_one_line(cli("rollback", "--limit", "all", "--inventory", str(inv)))


def test_missing_inventory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    assert_one_line(cli("fix-502", "--host", "web61", "--inventory", str(missing), "--dry-run"), str(missing))


@pytest.mark.parametrize("key", ["missing", "directory"])
def test_unreadable_key_file(tmp_path: Path, key: str) -> None:
    path = tmp_path / "nokey" if key == "missing" else tmp_path
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory(GOOD_HOST + f"      ansible_ssh_private_key_file: {path}\n"))
    for args in (("fix-502", "--dry-run"), ("diagnose",), ("rollback",)):
        line = assert_one_line(cli(*args, "--host", "web61", "--inventory", str(inv)), "web61", str(path))
        assert "private key" in line


def test_unknown_host_is_input_error(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory(GOOD_HOST))
    assert_one_line(cli("fix-502", "--host", "web99", "--inventory", str(inv), "--dry-run"), "web99")


# --- playbooks -------------------------------------------------------------------------------------
PLAYBOOKS = {
    "malformed-yaml": ("name: t\nsteps: [\n", "YAML"),
    "unknown-key": (DIAG + "  - fix: restart-fpm\n    bogus: 1\n", "bogus"),
    "unknown-top-key": (DIAG + "hosts: all\n", "hosts"),
    "wrong-type-window": ("name: t\nsteps:\n  - diagnose: {window: abc}\n", "window"),
    "wrong-type-with": (DIAG + "  - fix: size-max-children\n    with: {ram_share: lots}\n", "ram_share"),
    "unknown-fix": (DIAG + "  - fix: no-such-fix\n", "no-such-fix"),
    "unsafe-when-mro": (
        DIAG + "  - fix: restart-fpm\n    when: \"''.__class__.__mro__[1].__subclasses__()\"\n",
        "unsafe",
    ),
    "unsafe-when-import": (
        DIAG + '  - fix: restart-fpm\n    when: \'__import__("os").system("id")\'\n',
        "unsafe",
    ),
    "unsafe-when-lambda": (DIAG + "  - fix: restart-fpm\n    when: '(lambda: 1)()'\n", "when"),
    "when-not-expression": (DIAG + "  - fix: restart-fpm\n    when: 'causes ==='\n", "when"),
}


@pytest.mark.parametrize("case", sorted(PLAYBOOKS))
def test_bad_playbook_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    text, named = PLAYBOOKS[case]
    pb = tmp_path / "pb.yml"
    pb.write_text(text)
    line = assert_one_line(cli("playbook.check", str(pb)), named)
    assert line.startswith(f"{pb}:") and line.split(":")[1].isdigit(), line
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory(GOOD_HOST))
    assert_one_line(cli("fix-502", "--host", "web61", "--inventory", str(inv), "--playbook", str(pb), "--yes"), str(pb))


def test_unsafe_when_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pb = tmp_path / "pb.yml"
    pb.write_text(DIAG + f'  - fix: restart-fpm\n    when: \'__import__("os").system("touch {marker}")\'\n')
    assert_one_line(cli("playbook.check", str(pb)))
    assert not marker.exists()


def test_missing_playbook(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    assert_one_line(cli("playbook.check", str(missing)), str(missing))


# --- options: checked before any host is contacted -----------------------------------------------
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--forks", "abc"), "--forks"),
        (("--forks", "0"), "--forks"),
        (("--window", "abc"), "--window"),
        (("--window=-5",), "--window"),
        (("--max-fail", "x"), "--max-fail"),
        (("--max-fail-percentage", "200"), "--max-fail-percentage"),
        (("--serial", "1,x"), "--serial"),
    ],
)
def test_bad_option_is_one_line_exit_2(tmp_path: Path, args: tuple[str, ...], named: str) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory(GOOD_HOST))
    assert_one_line(cli("fix-502", "--host", "web61", "--inventory", str(inv), "--dry-run", *args), named)


@pytest.mark.parametrize("where", ["directory", "missing-dir", "read-only-dir"])
def test_unwritable_report_is_refused_before_any_host(tmp_path: Path, where: str) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory(GOOD_HOST))
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    target = {"directory": tmp_path, "missing-dir": tmp_path / "no" / "r.json", "read-only-dir": ro / "r.json"}[where]
    if where == "read-only-dir" and __import__("os").geteuid() == 0:
        pytest.skip("root writes into a 0500 directory anyway")
    line = assert_one_line(
        cli("fix-502", "--host", "web61", "--inventory", str(inv), "--dry-run", "--report-json", str(target)),
        "--report-json",
    )
    assert "unreachable" not in line  # refused up front: the host (port 1) was never tried
