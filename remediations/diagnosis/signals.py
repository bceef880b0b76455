"""Log signatures: one captured line in, what it means (a :class:`Signal`) out.

Every signature here was captured from the real software (nginx 1.22.1, Apache 2.4 with
mod_proxy_fcgi, php-fpm 8.2 on Debian 12) by reproducing the fault on private instances; the
captures live in ``tests/unit/fixtures/corpus/captured/``. The only exception is the kernel OOM
line, which cannot be produced here and is matched on the format of ``mm/oom_kill.c``.
Kept apart from the rules so a new signature is one regex and one branch, and the rules speak
only of signal kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from remediations.facts.model import LogLine


@dataclass(frozen=True)
class Signal:
    """One log line recognised as a signature: what it means and which upstream it names."""

    kind: str  # connect | crash | exit | crash-reset | header | timeout | exhausted | slow | fatal | fpm-start-error
    line: LogLine
    errno: int | None = None
    target: str | None = None  # socket path or host:port the line names
    proxy: bool = False  # an HTTP proxy upstream (proxy_pass) rather than FastCGI
    pid: int | None = None  # FPM child pid
    signal: int | None = None


# nginx (captured): connect() to unix:/p failed (2: No such file or directory) while connecting to upstream
NGINX_CONNECT_UNIX = re.compile(
    r"connect\(\) to unix:(?P<path>\S+?) failed \((?P<errno>\d+): [^)]*\) while connecting to upstream"
)
# nginx (captured): connect() failed (111: Connection refused) while connecting to upstream, ... upstream: "fastcgi://h:p"
NGINX_CONNECT = re.compile(r"connect\(\) failed \((?P<errno>\d+): [^)]*\) while connecting to upstream")
# nginx: upstream timed out (110: Connection timed out) while connecting to upstream
NGINX_CONNECT_TIMEOUT = re.compile(r"upstream timed out \(110: [^)]*\) while connecting to upstream")
NGINX_UPSTREAM = re.compile(r'upstream: "(?P<scheme>[a-z]+)://(?P<addr>[^"]*)"')
NGINX_PREMATURE = re.compile(r"upstream prematurely closed connection while reading (?:response header from )?upstream")
NGINX_RESET = re.compile(r"(?:recv|readv|writev|send)\(\) failed \(104: Connection reset by peer\) while")
NGINX_BIG_HEADER = re.compile(r"upstream sent too big header while reading response header from upstream")
NGINX_READ_TIMEOUT = re.compile(r"upstream timed out \(110: [^)]*\) while reading")
NGINX_FCGI_FATAL = re.compile(r'FastCGI sent in stderr: "PHP message: PHP (?:Fatal|Parse) error')
# php-fpm (captured)
FPM_EXITED = re.compile(
    r"\[pool (?P<pool>[^\]]+)\] child (?P<pid>\d+) exited on signal (?P<sig>\d+) \((?P<name>SIG\w+)"
)
FPM_TIMED_OUT = re.compile(r"\[pool (?P<pool>[^\]]+)\] child (?P<pid>\d+), script .* execution timed out")
FPM_MAX_CHILDREN = re.compile(r"\[pool (?P<pool>[^\]]+)\] server reached (?:pm\.)?max_children setting")
FPM_THRESHOLD = re.compile(r"failed processes threshold \(\d+ in \d+ sec\) is reached")
FPM_START_ERROR = re.compile(
    r"ERROR: (?:unable to bind listening socket|\[(?:/|pool )[^\]]*\]|FPM initialization failed"
    r"|failed to load configuration file)"
)
FPM_CHILD_FATAL = re.compile(r"child \d+ said into stderr: \"(?:NOTICE: )?PHP message: PHP (?:Fatal|Parse) error")
# Apache mod_proxy / mod_proxy_fcgi (captured)
APACHE_CONNECT_UNIX = re.compile(
    r"\((?P<errno>\d+)\)[^:]*: AH02454: FCGI: attempt to connect to Unix domain socket (?P<path>\S+) "
)
APACHE_CONNECT_TCP = re.compile(
    r"\((?P<errno>\d+)\)[^:]*: AH00957: (?P<scheme>FCGI|http|https): attempt to connect to (?P<addr>\S+) "
)
APACHE_NO_BACKEND = re.compile(r"AH01079: failed to make connection to backend")
APACHE_HTTP_NO_BACKEND = re.compile(r"AH01114: HTTP: failed to make connection to backend")
APACHE_DISABLED = re.compile(r"AH00959: ap_proxy_connect_backend disabling worker")
APACHE_FCGI_HEADER = re.compile(r"AH01067: Failed to read FastCGI header")
APACHE_DISPATCH_RESET = re.compile(r"\(104\)Connection reset by peer: .*AH01075: Error dispatching request")
APACHE_DISPATCH_TIMEOUT = re.compile(r"\(70007\)The timeout specified has expired: .*AH01075")
APACHE_FCGI_FATAL = re.compile(r"AH01071: Got error 'PHP message: PHP (?:Fatal|Parse) error")
# Linux kernel, mm/oom_kill.c (NOT captured: an OOM kill cannot be produced on this machine):
#   "%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, ..." with message "Out of memory"
#   (or "Memory cgroup out of memory"), and dump_oom_summary's "oom-kill:...,task=%s,pid=%d,...".
KERNEL_OOM_KILL = re.compile(r"[Oo]ut of memory: Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\)")
KERNEL_OOM_SUMMARY = re.compile(r"oom-kill:.*task=(?P<comm>[^,]+),pid=(?P<pid>\d+)")

CRASH_SIGNALS = {6, 7, 9, 11}  # SIGABRT, SIGBUS, SIGKILL (OOM killer), SIGSEGV


def _nginx_upstream(text: str) -> tuple[str | None, bool]:
    m = NGINX_UPSTREAM.search(text)
    if not m:
        return None, False
    addr = m.group("addr")
    addr = addr[5:].rstrip(":") if addr.startswith("unix:") else addr.split("/", 1)[0]
    return addr, m.group("scheme") in ("http", "https")


def read_signal(line: LogLine) -> Signal | None:
    """Recognise one log line; ``None`` for lines that prove nothing about a 502."""
    text = line.text
    m = NGINX_CONNECT_UNIX.search(text)
    if m:
        _, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("path"), proxy=proxy)
    m = NGINX_CONNECT.search(text)
    if m:
        target, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=int(m.group("errno")), target=target, proxy=proxy)
    if NGINX_CONNECT_TIMEOUT.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=110, target=target, proxy=proxy)
    if NGINX_BIG_HEADER.search(text):
        return Signal("header", line)
    if NGINX_PREMATURE.search(text) or NGINX_RESET.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("crash-reset", line, target=target, proxy=proxy)
    if NGINX_READ_TIMEOUT.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("slow", line, target=target, proxy=proxy)
    if NGINX_FCGI_FATAL.search(text) or APACHE_FCGI_FATAL.search(text) or FPM_CHILD_FATAL.search(text):
        return Signal("fatal", line)
    m = FPM_EXITED.search(text)
    if m:
        sig = int(m.group("sig"))
        kind = "crash" if sig in CRASH_SIGNALS else "exit"
        return Signal(kind, line, pid=int(m.group("pid")), signal=sig)
    m = FPM_TIMED_OUT.search(text)
    if m:
        return Signal("timeout", line, pid=int(m.group("pid")))
    if FPM_MAX_CHILDREN.search(text):
        return Signal("exhausted", line)
    if FPM_THRESHOLD.search(text):
        return Signal("crash", line)
    if FPM_START_ERROR.search(text):
        return Signal("fpm-start-error", line)
    m = APACHE_CONNECT_UNIX.search(text)
    if m:
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("path"))
    m = APACHE_CONNECT_TCP.search(text)
    if m:
        proxy = m.group("scheme") != "FCGI"
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("addr"), proxy=proxy)
    if APACHE_HTTP_NO_BACKEND.search(text):
        return Signal("connect", line, proxy=True)
    if APACHE_NO_BACKEND.search(text) or APACHE_DISABLED.search(text):
        return Signal("connect", line)
    if APACHE_FCGI_HEADER.search(text) or APACHE_DISPATCH_RESET.search(text):
        return Signal("crash-reset", line)
    if APACHE_DISPATCH_TIMEOUT.search(text):
        return Signal("slow", line)
    m = KERNEL_OOM_KILL.search(text) or KERNEL_OOM_SUMMARY.search(text)
    if m and "php" in m.group("comm"):
        return Signal("crash", line, pid=int(m.group("pid")), signal=9)
    return None
