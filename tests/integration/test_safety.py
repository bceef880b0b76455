"""Reliability and security under faults, on real lab hosts (issue 7).

Every case breaks something real — an SSH session killed from the host's side, a read-only backup
disk, a second controller, a signal to the controller, a host that disappears mid-batch, a changed
host key — and then checks the guarantee byte for byte: files identical to a snapshot taken before
the run, services untouched, the journal readable, `rollback` able to finish the job.
Hosts: web61..web68 (this module's own)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations.inventory import Host
from remediations.journal import Journal
from remediations.plan import WriteFile
from remediations.transport import CmdResult
from tests.integration.conftest import REPO, fix502, host, inventory, snapshot
from tests.lab import faults, lab

pytestmark = pytest.mark.integration

SITE = faults.NGINX_SITE  # /etc/nginx/sites-available/wordpress


@pytest.fixture(autouse=True, scope="module")
def _remove_our_bundles() -> Iterator[None]:
    """Escalations land in the checkout's reports/escalations: keep only other modules' there."""
    yield
    for p in (REPO / "reports/escalations").glob("*-web[67][0-9].*"):
        if p.stem.rsplit("-", 1)[-1] in {f"web{i}" for i in range(61, 71)}:
            p.unlink()


# --- helpers ----------------------------------------------------------------------------------------
def start(*args: str) -> subprocess.Popen[str]:
    """The real CLI in the background, so the test can interfere with it mid-run."""
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def journals(h: lab.LabHost) -> list[Path]:
    return sorted((h.root / "var/backups/fix502").glob("*/journal.jsonl"))


def records(h: lab.LabHost) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for j in journals(h):
        out += [json.loads(line) for line in j.read_text().splitlines() if line.strip()]
    return out


def wait_for(cond: object, timeout: float = 90, what: str = "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def change_started(h: lab.LabHost) -> bool:
    try:
        return any(r.get("op") == "write" for r in records(h))
    except ValueError:  # a line being appended right now
        return False


def leftovers(snap: dict[str, str]) -> list[str]:
    return [k for k in snap if "/.fix502." in k]


def rollback(name: str) -> subprocess.CompletedProcess[str]:
    return fix502("rollback", "--host", name, "--inventory", inventory(), timeout=180)


def nginx_master(h: lab.LabHost) -> str:
    return h.sh("cat /run/nginx.pid").stdout.strip()


# --- 1. the connection dies mid-change ---------------------------------------------------------------
def test_ssh_session_killed_mid_fix_then_rollback_restores(tmp_path: Path) -> None:
    h = host("web61")
    faults.apply(h, "old-php-socket")
    before = snapshot(h)
    proc = start("fix-502", "--host", "web61", "--inventory", inventory(), "--yes")
    wait_for(lambda: change_started(h), what="the journal to show a change")
    # From the host's side: kill the sshd session process serving fix502 (not the listener).
    h.sh("pkill -KILL -f 'sshd: roo[t]@' || true")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0 or "fixed" in out, out
    # Whatever state the kill left, the journal is readable and rollback restores the host exactly.
    recs = records(h)
    assert recs[0]["op"] == "begin" and [r["seq"] for r in recs if "seq" in r] == sorted(
        r["seq"] for r in recs if "seq" in r
    )  # type: ignore[type-var]
    rb = rollback("web61")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    after = snapshot(h)
    assert after == before
    assert not leftovers(after)
    assert h.path("/etc/nginx/sites-enabled/wordpress").is_symlink()
    assert rollback("web61").returncode == 0 and snapshot(h) == before  # undo is idempotent


def test_write_cut_short_never_replaces_the_file(tmp_path: Path) -> None:
    """The new content travels on stdin: if the connection dies halfway, `cat` sees a plain EOF.
    The short temp file must never be moved over the target."""
    h = host("web62")
    original = h.path(SITE).read_bytes()
    after = original.decode() + "# " + "x" * 200_000 + "\n"  # big enough to still be in flight

    class Recorder:
        host = lab_inventory_host("web62")
        connections_opened = round_trips = 0

        def __init__(self) -> None:
            self.scripts: list[str] = []

        def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
            self.scripts.append(command)
            return CmdResult(0, "", "")

        def close(self) -> None:
            return None

    rec = Recorder()
    j = Journal(rec, "20990101T000000Z-1")
    j.begin("test", "controller")
    j.apply(WriteFile(SITE, original.decode(), after, "test"), "test-fix")
    begin_script, write_script = rec.scripts
    ssh = [
        "ssh",
        "-i",
        str(lab.KEY),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={lab.KNOWN_HOSTS}",
        f"root@{h.addr}",
    ]
    subprocess.run([*ssh, begin_script], check=True, timeout=30, capture_output=True)
    proc = subprocess.Popen(
        [*ssh, write_script], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None
    proc.stdin.write(after.encode()[:50_000])
    proc.stdin.flush()
    site_dir = h.path(SITE).parent
    wait_for(lambda: any(site_dir.glob(".fix502.*")), what="the temp file")
    time.sleep(0.3)
    proc.kill()  # the connection dies with the rest of the content unsent
    proc.wait()
    wait_for(lambda: not any(site_dir.glob(".fix502.*")), timeout=20, what="the remote script to give up")
    assert h.path(SITE).read_bytes() == original
    rb = rollback("web62")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert h.path(SITE).read_bytes() == original


def lab_inventory_host(name: str) -> Host:
    from remediations.inventory import load_inventory

    return load_inventory(inventory()).select(host=name)[0]


# --- 2. nginx -t fails after the edit ----------------------------------------------------------------
def test_nginx_t_failure_reverts_edit_before_any_reload(tmp_path: Path) -> None:
    h = host("web63")
    faults.apply(h, "old-php-socket")
    # A colleague left a broken snippet: the running nginx is fine, but `nginx -t` now fails.
    h.write("/etc/nginx/conf.d/zz-broken.conf", "upstream_nonsense on;\n")
    assert h.sh("nginx -t", check=False).returncode != 0
    before = snapshot(h)
    master = nginx_master(h)
    workers = h.sh("pgrep -P " + master).stdout.split()
    res = fix502(
        "fix-502",
        "--host",
        "web63",
        "--inventory",
        inventory(),
        "--yes",
        "--report-json",
        str(tmp_path / "r.json"),
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    recs = records(h)
    writes = [r for r in recs if r.get("op") == "write"]
    assert writes, "the fix never edited: the test did not exercise the revert"
    assert {r.get("undoes") for r in recs if r.get("op") == "undone"} >= {w["seq"] for w in writes}
    assert not [r for r in recs if r.get("op") == "service" and r.get("name") == "nginx"]
    assert snapshot(h) == before
    assert nginx_master(h) == master
    assert h.sh("pgrep -P " + master).stdout.split() == workers  # no reload: same workers
    assert "nginx -t" in out or "nginx" in out


# --- 3. the backup location is full or read-only -----------------------------------------------------
@pytest.mark.parametrize("how", ["read-only", "full"])
def test_backup_location_unusable_means_no_change(tmp_path: Path, how: str) -> None:
    h = host("web64")
    faults.apply(h, "old-php-socket")
    if how == "read-only":
        h.sh("mount -o remount,bind,ro /var/backups")
    else:
        h.sh(
            "mount -t tmpfs -o size=64k,nr_inodes=64 tmpfs /var/backups && "
            "dd if=/dev/zero of=/var/backups/fill bs=4k 2>/dev/null || true"
        )
    try:
        before = snapshot(h)
        pids = h.service_pids()
        res = fix502("fix-502", "--host", "web64", "--inventory", inventory(), "--yes")
        out = res.stdout + res.stderr
        assert res.returncode != 0, out
        assert "Traceback" not in out
        assert re.search(r"back ?up|/var/backups|Read-only|No space", out, re.I), out
        assert snapshot(h) == before
        assert h.service_pids().get("nginx") == pids.get("nginx")
        assert h.http("/")[0] == 502  # still broken: nothing was "fixed" without a backup
    finally:
        h.sh("umount /var/backups || true", check=False)


# --- 4. two runs at once; a stale lock ---------------------------------------------------------------
def test_second_run_is_refused_and_stale_lock_needs_break_lock(tmp_path: Path) -> None:
    h = host("web65")
    faults.apply(h, "old-php-socket")
    lock = h.path("/run/fix502.lock")
    first = start("fix-502", "--host", "web65", "--inventory", inventory(), "--yes")
    wait_for(lambda: (lock / "owner").exists(), what="the first run's lock")
    owner = json.loads((lock / "owner").read_text())
    second = fix502("fix-502", "--host", "web65", "--inventory", inventory(), "--yes")
    out2 = second.stdout + second.stderr
    first_out, _ = first.communicate(timeout=300)
    assert second.returncode != 0, out2
    assert f"locked by run {owner['run_id']}" in out2 and f"pid {owner['pid']}" in out2, out2
    assert "fixed" in first_out, first_out
    assert not lock.exists()  # released by its owner
    # A run that died long ago left its lock behind.
    faults.apply(h, "old-php-socket")
    h.sh(
        'mkdir /run/fix502.lock && printf \'%s\' \'{"run_id": "dead-run", "controller": "gone", '
        '"pid": 999999, "started": 0}\' > /run/fix502.lock/owner && touch -d \'3 hours ago\' /run/fix502.lock'
    )
    before = snapshot(h)
    refused = fix502("fix-502", "--host", "web65", "--inventory", inventory(), "--yes")
    assert refused.returncode != 0
    assert "dead-run" in refused.stdout and "stale" in refused.stdout, refused.stdout
    assert snapshot(h) == before
    taken = fix502("fix-502", "--host", "web65", "--inventory", inventory(), "--yes", "--break-lock")
    assert taken.returncode == 0, taken.stdout
    assert h.http("/")[0] == 200
    assert not lock.exists()


# --- 5. SIGINT / SIGTERM to the controller mid-fix ----------------------------------------------------
@pytest.mark.parametrize(
    "signals",
    [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)],
    ids=["sigint", "sigterm", "sigint-twice"],
)
def test_signal_mid_fix_keeps_journal_and_rollback_restores(
    tmp_path: Path, signals: tuple[signal.Signals, ...]
) -> None:
    h = host("web66")
    faults.apply(h, "old-php-socket")
    before = snapshot(h)
    proc = start("fix-502", "--host", "web66", "--inventory", inventory(), "--yes")
    wait_for(lambda: change_started(h), what="the journal to show a change")
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.2)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the controller did not exit after " + "+".join(s.name for s in signals))
    assert "Traceback" not in out, out
    for j in journals(h):  # intact: every line is a whole JSON record, seq strictly increasing
        lines = [json.loads(line) for line in j.read_text().splitlines()]
        seqs = [r["seq"] for r in lines if "seq" in r]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert lines[0]["op"] == "begin"
    assert oct(journals(h)[0].stat().st_mode & 0o777) == "0o600"
    rb = rollback("web66")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert snapshot(h) == before
    assert not (h.path("/run/fix502.lock")).exists() or "locked" not in rb.stdout


# --- 6. a host becomes unreachable mid-batch ---------------------------------------------------------
def test_host_unreachable_mid_batch_others_continue(tmp_path: Path) -> None:
    a, b = host("web67"), host("web68")
    faults.apply(a, "old-php-socket")
    faults.apply(b, "old-php-socket")
    b_before = snapshot(b)
    report = tmp_path / "r.json"
    proc = start(
        "fix-502",
        "--limit",
        "web67,web68",
        "--inventory",
        inventory(),
        "--yes",
        "--forks",
        "1",
        "--report-json",
        str(report),
    )
    wait_for(lambda: (a.path("/run/fix502.lock") / "owner").exists(), what="web67 to start")
    b.sh("pkill -KILL -x sshd || true")  # web68's sshd is gone (listener and sessions)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 3, out
    data = json.loads(report.read_text())
    assert data["hosts"]["web67"]["status"] == "fixed", data
    assert data["hosts"]["web68"]["status"] == "unreachable", data
    assert "web68" in (data["hosts"]["web68"]["error"] or "")
    assert a.http("/")[0] == 200
    assert snapshot(b) == b_before


# --- 7. a changed host key ---------------------------------------------------------------------------
def test_changed_host_key_is_refused_before_any_command(tmp_path: Path) -> None:
    h = host("web69")
    marker = "/run/fix502-authed"
    # Every authenticated session touches a marker (forced command): proof of whether we got in.
    key = Path(str(lab.KEY) + ".pub").read_text().strip()
    h.write("/etc/ssh/authorized_keys_lab", f'command="touch {marker}" {key}\n', mode=0o600)
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    real_fp = subprocess.run(
        ["ssh-keygen", "-lf", str(h.path("/etc/ssh/ssh_host_ed25519_key.pub"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    before = snapshot(h)
    kh = lab.KNOWN_HOSTS
    try:
        subprocess.run(["ssh-keygen", "-q", "-R", h.addr, "-f", str(kh)], check=False, capture_output=True)
        pub = impostor.with_suffix(".pub").read_text().split()
        with open(kh, "a") as fh:
            fh.write(f"{h.addr} {pub[0]} {pub[1]}\n")
        for args in (
            ("fix-502", "--yes"),
            ("diagnose",),
            ("rollback",),
            ("fix-502", "--yes", "--accept-new-hosts"),
        ):
            res = fix502(*args, "--host", "web69", "--inventory", inventory())
            out = res.stdout + res.stderr
            assert res.returncode == 3 or (args[0] == "rollback" and res.returncode != 0), (args, out)
            assert "CHANGED" in out and real_fp in out, (args, out)
            assert not h.path(marker).exists(), f"{args}: a session was opened despite the changed key"
        assert snapshot(h) == before
        assert not (h.root / "var/backups/fix502").exists()
    finally:
        lab.trust_host_key(h)
    # Control: with the right key the same command does get in (so the marker can fail the test).
    fix502("diagnose", "--host", "web69", "--inventory", inventory())
    assert h.path(marker).exists()


# --- 8. secrets never leave the host; backups are root-only ------------------------------------------
def wp_secrets(h: lab.LabHost) -> list[str]:
    text = h.read("/var/www/wordpress/wp-config.php")
    names = (
        "DB_PASSWORD",
        "AUTH_KEY",
        "SECURE_AUTH_KEY",
        "LOGGED_IN_KEY",
        "NONCE_KEY",
        "AUTH_SALT",
        "SECURE_AUTH_SALT",
        "LOGGED_IN_SALT",
        "NONCE_SALT",
    )
    found = [m.group(2) for m in re.finditer(r"define\(\s*'(\w+)',\s*'([^']*)'", text) if m.group(1) in names]
    assert len(found) == len(names)
    return found


def test_secrets_stay_out_of_reports_bundles_console_and_backups_are_private(tmp_path: Path) -> None:
    h = host("web70")
    secrets = wp_secrets(h)
    private_key = lab.KEY.read_text().strip().splitlines()[1]
    faults.apply(h, "fpm-config-error")
    # Secrets in the evidence: the site URL fix502 probes carries a login (as monitoring URLs do), so
    # every request line nginx logs for a 502 — the very lines quoted as evidence — holds secrets.
    inv = tmp_path / "hosts.yml"
    lab.write_inventory([h], inv)
    url = f"{h.url}wp-login.php?log=admin&pwd={secrets[0]}&password={secrets[1]}"
    inv.write_text(inv.read_text().replace(f'site_url: "{h.url}"', f'site_url: "{url}"'))
    assert secrets[0] in inv.read_text()
    report = tmp_path / "r.json"
    res = fix502("fix-502", "--host", "web70", "--inventory", str(inv), "--yes", "--report-json", str(report))
    bundle = json.loads(report.read_text())["hosts"]["web70"].get("bundle")
    assert "[redacted]" in report.read_text(), "no secret reached the evidence: the test proves nothing"
    texts = {"console": res.stdout + res.stderr, "report": report.read_text()}
    assert bundle, "the run did not escalate: no bundle to check"
    if bundle:
        for p in Path(REPO, bundle).parent.glob(Path(bundle).name.split(".")[0] + "*"):
            texts[str(p)] = p.read_text()
    diag = fix502("diagnose", "--host", "web70", "--inventory", str(inv), "--report-json", str(tmp_path / "d.json"))
    texts["diagnose"] = diag.stdout + diag.stderr + (tmp_path / "d.json").read_text()
    for where, text in texts.items():
        for s in secrets:
            assert s not in text, f"a wp-config secret leaked into {where}"
        assert private_key not in text, f"the private key leaked into {where}"

    # A real fix run: its backups and journal on the host are root-only.
    h = host("web70")
    faults.apply(h, "old-php-socket")
    res = fix502("fix-502", "--host", "web70", "--inventory", inventory(), "--yes")
    assert res.returncode == 0, res.stdout
    base = h.root / "var/backups/fix502"
    assert oct(base.stat().st_mode & 0o777) == "0o700"
    paths = list(base.rglob("*"))
    assert any(p.name == "journal.jsonl" for p in paths) and any(p.parent.name == "files" for p in paths)
    for p in paths:
        want = 0o700 if p.is_dir() else 0o600
        assert p.stat().st_mode & 0o777 == want, (p, oct(p.stat().st_mode))
        assert p.stat().st_uid == 0
    # ...and the fixed file itself kept its owner and mode.
    assert h.path(SITE).stat().st_mode & 0o777 == 0o644
