"""PID 1 of a lab host.

Started by ``lab.py`` as ``unshare --mount --pid --fork --mount-proc python3 hostinit.py STATE ADDR``.
Inside its fresh mount and PID namespaces it bind-mounts the host's own /etc/nginx, /etc/php, /run,
/var/log, /var/www ... from the per-host state directory, starts the host's sshd, and then does what
an init must: reap orphaned children forever.  When it gets SIGTERM it kills everything in the
namespace (the kernel would SIGKILL them anyway once PID 1 exits, this just lets daemons go cleanly).

Kept free of non-stdlib imports: it runs with whatever python3 the machine has.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

# (directory in the state dir, mount point) — the parts of the filesystem a host owns.
BINDS = [
    ("etc/nginx", "/etc/nginx"),
    ("etc/php", "/etc/php"),
    ("etc/apache2", "/etc/apache2"),
    ("etc/ssh", "/etc/ssh"),
    ("run", "/run"),
    ("var/log", "/var/log"),
    ("var/www", "/var/www"),
    ("var/backups", "/var/backups"),
    ("var/lib/nginx", "/var/lib/nginx"),
    ("var/lib/php", "/var/lib/php"),
    ("var/lib/apache2", "/var/lib/apache2"),
    ("var/cache/apache2", "/var/cache/apache2"),
    ("tmp", "/tmp"),
]
# Only for hosts that have them (a sudo-only host's own accounts and sudoers).
OPTIONAL_BINDS = [
    ("etc/passwd", "/etc/passwd"),
    ("etc/group", "/etc/group"),
    ("etc/shadow", "/etc/shadow"),
    ("etc/sudoers.d", "/etc/sudoers.d"),
    ("home", "/home"),
    ("opt", "/opt"),  # a layout host's /opt/cpanel, /opt/plesk (tests/lab/layouts.py)
]


def main() -> int:
    state, addr = sys.argv[1], sys.argv[2]
    import socket

    socket.sethostname(os.path.basename(state.rstrip("/")))
    root = os.path.join(state, "root")
    upper = os.path.join(root, "etc-upper")
    if os.path.isdir(upper):  # a layout host (tests/lab/layouts.py): files in /etc of its own
        work = os.path.join(root, "etc-work")
        opts = f"lowerdir=/etc,upperdir={upper},workdir={work}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, "/etc"], check=True)
    for rel, target in BINDS:
        src = os.path.join(root, rel)
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount", "--bind", src, target], check=True)
    for rel, target in OPTIONAL_BINDS:
        src = os.path.join(root, rel)
        if os.path.exists(src):
            if os.path.isdir(src):
                os.makedirs(target, exist_ok=True)
            subprocess.run(["mount", "--bind", src, target], check=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    os.makedirs("/run/php", mode=0o755, exist_ok=True)
    os.makedirs("/run/lock", exist_ok=True)
    os.chmod("/run/lock", 0o1777)  # /var/lock points here (Apache's init script needs it)
    subprocess.run(["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config"], check=True)

    stopping = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(os.path.join(state, "ready"), "w") as fh:
        fh.write(f"{addr}\n")

    while not stopping:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            time.sleep(0.2)
    # Orderly stop: TERM everyone, give them a moment, then KILL what is left.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != 1:
                try:
                    os.kill(int(entry), sig)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
