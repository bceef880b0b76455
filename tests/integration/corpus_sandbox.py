"""A corpus case's nginx configuration under the real nginx, without touching the machine.

Each case of ``../shared/corpus/configs/<case>/`` holds files at the absolute paths they have on a
host.  :class:`NginxSandbox` lays them over a copy of this machine's Debian ``/etc/nginx`` (the
files a case does not ship: mime.types, fastcgi_params, snippets) in a private root, and runs the
real ``nginx`` chrooted into it, inside its own mount and network namespaces (``/usr``'s system
directories bound read-only; only a private loopback, so nothing it binds is the machine's), so
``nginx -t`` and ``nginx -T`` read exactly those files at exactly those paths.

What a case references but does not ship — a log directory, an include, a TLS certificate, an
upstream host name, the ``user`` — is stubbed only when nginx itself names it in an error, one at
a time, and every stub is listed (``stubs``): a case never passes because the sandbox guessed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "configs"
MACHINE_NGINX = Path("/etc/nginx")
MERGED_USR = ("bin", "lib", "lib64", "sbin")  # Debian 12: symlinks into /usr
SYSTEM_USR = ("bin", "sbin", "lib", "lib64", "share")  # bound read-only; /usr/local stays the case's

# nginx's messages for what a config references and the sandbox may stand in for
_MISSING_FILE = re.compile(r'open\(\) "([^"]+)" failed \(2: No such file or directory\)')
_MKDIR = re.compile(r'mkdir\(\) "([^"]+)" failed \(2: No such file or directory\)')
_CERT = re.compile(r'cannot load certificate(?: key)? "([^"]+)"')
_DHPARAM = re.compile(r'BIO_new_file\("([^"]+)"\) failed')
_ADDRESS = re.compile(r"bind\(\) to ([0-9.]+):\d+ failed \(99: ")
_HOST = re.compile(r'host not found in upstream "([^":]+)(?::\d+)?"')
_USER = re.compile(r'getpwnam\("([^"]+)"\) failed')
_GROUP = re.compile(r'getgrnam\("([^"]+)"\) failed')


class SandboxError(Exception):
    pass


class NginxSandbox:
    def __init__(self, case: str, root: Path) -> None:
        self.case, self.root = CORPUS / case, root
        self.stubs: list[str] = []
        self.addresses: list[str] = []  # listen addresses added to the sandbox's own loopback
        if not self.case.is_dir():
            raise SandboxError(f"no corpus case {case}")
        shutil.copytree(MACHINE_NGINX, root / "etc/nginx", symlinks=True)
        for site in ("sites-enabled", "conf.d"):  # the package's own default site is not the case's
            shutil.rmtree(root / "etc/nginx" / site)
            (root / "etc/nginx" / site).mkdir()
        for name in ("passwd", "group", "hosts", "nsswitch.conf"):
            shutil.copy2(Path("/etc") / name, root / "etc" / name)
        for d in [f"usr/{u}" for u in SYSTEM_USR] + [
            "dev",
            "proc",
            "run",
            "tmp",
            "var/log/nginx",
            "var/lib/nginx",
            "var/cache/nginx",
        ]:
            (root / d).mkdir(parents=True, exist_ok=True)
        for link in MERGED_USR:
            (root / link).symlink_to(f"usr/{link}")
        for f in sorted(self.case.rglob("*")):
            if f.is_file():
                dest = root / f.relative_to(self.case)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(f.read_bytes())

    # -- files as the "host" sees them ----------------------------------------------------------
    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def case_files(self) -> list[str]:
        return ["/" + str(f.relative_to(self.case)) for f in sorted(self.case.rglob("*")) if f.is_file()]

    # -- the real nginx -----------------------------------------------------------------------------
    def nginx(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("/usr/sbin/nginx", *args)

    def fpm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("/usr/sbin/php-fpm8.2", *args)

    def run(self, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``binary`` chrooted into the sandbox, in private mount and network namespaces."""
        script = (
            "ip link set lo up && "
            + "".join(f"ip addr add {a}/32 dev lo && " for a in self.addresses)
            + "".join(f"mount --bind -o ro /usr/{d} {self.root}/usr/{d} && " for d in SYSTEM_USR)
            + f"mount --rbind /dev {self.root}/dev && mount -t proc proc {self.root}/proc && "
            + f"exec chroot {self.root} {binary} "
            + " ".join(shlex.quote(a) for a in args)
        )
        return subprocess.run(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def test(self, *, heal: bool = True, limit: int = 40) -> subprocess.CompletedProcess[str]:
        """``nginx -t``; with ``heal``, stand in for each missing reference nginx names, then retry."""
        for _ in range(limit):
            res = self.nginx("-t")
            if res.returncode == 0 or not heal or not self._stub(res.stderr):
                return res
        raise SandboxError(f"{self.case.name}: still failing after {limit} stubs: {res.stderr[-300:]}")

    def dump(self) -> str:
        res = self.nginx("-T")
        if res.returncode != 0:
            raise SandboxError(f"{self.case.name}: nginx -T failed: {res.stderr[-300:]}")
        return res.stderr + res.stdout  # the evidence script runs `nginx -T 2>&1`: messages first

    def _stub(self, stderr: str) -> bool:
        for pattern, make, label in (
            (_CERT, self._cert, "certificate"),
            (_DHPARAM, self._dhparam, "dhparam (RFC 7919 ffdhe2048)"),
            (_MISSING_FILE, self._file, "empty file"),
            (_MKDIR, self._dir, "directory"),
            (_HOST, self._host, "hosts entry"),
            (_ADDRESS, self.addresses.append, "address on the sandbox's loopback"),
            (_USER, self._user, "user"),
            (_GROUP, self._group, "group"),
        ):
            m = pattern.search(stderr)
            if m:
                make(m.group(1))
                self.stubs.append(f"{label} {m.group(1)}")
                return True
        return False

    def _file(self, p: str) -> None:
        target = self.path(p)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()

    def _dir(self, p: str) -> None:
        self.path(p).mkdir(parents=True, exist_ok=True)

    def _cert(self, p: str) -> None:
        target = self.path(p)
        target.parent.mkdir(parents=True, exist_ok=True)
        pem = _self_signed()
        target.write_text(pem)

    def _dhparam(self, p: str) -> None:
        target = self.path(p)
        target.parent.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        target.write_text(out.stdout)

    def _host(self, name: str) -> None:
        with self.path("/etc/hosts").open("a") as f:
            f.write(f"127.0.0.1 {name}\n")

    def _user(self, name: str) -> None:
        with self.path("/etc/passwd").open("a") as f:
            f.write(f"{name}:x:64000:64000::/nonexistent:/usr/sbin/nologin\n")
        self._group(name)

    def _group(self, name: str) -> None:
        with self.path("/etc/group").open("a") as f:
            f.write(f"{name}:x:64000:\n")


_PEM: list[str] = []


def _self_signed() -> str:
    """One throwaway certificate and key in one PEM (nginx reads either from it), made once."""
    if not _PEM:
        out = subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "-",
                "-out",
                "-",
                "-days",
                "2",
                "-subj",
                "/CN=corpus.test",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        _PEM.append(out.stdout)
    return _PEM[0]
