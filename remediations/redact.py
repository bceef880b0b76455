"""Secrets never leave fix502: by shape, and by value once a host has shown them.

Two layers, because neither alone is enough:

- **shapes**: ``define('DB_PASSWORD', ...)``, ``NAME = value`` / ``NAME=value`` / ``"NAME": value``,
  ``env[NAME] = value`` (FPM pools), ``fastcgi_param NAME value;`` (nginx), ``SetEnv NAME value``
  (Apache), ``scheme://user:password@host``, any ``-----BEGIN ... PRIVATE KEY...-----`` block (PEM,
  OpenSSH, PGP), for any secret-looking NAME (``*PASSWORD*``, ``*_KEY``, ``*SALT*``, ``*SECRET*``,
  ``*TOKEN*``...).  Values run to the end of the directive, so a password with spaces goes whole.
- **values**: every value those shapes matched in a host's evidence (pool files, vhosts, logs) is
  remembered and masked wherever it shows up later — a diff line, a plan, a log excerpt in a
  bundle — whatever surrounds it there.

:func:`remember_facts` is called by the evidence parser for every host, so everything printed
afterwards (console, dry-run diffs, JSON report, escalation bundles) masks that host's values.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from remediations.facts.model import HostFacts

_T = TypeVar("_T")
MASK = "[redacted]"
MIN_VALUE = 4  # shorter values ("1", "on") are not masked on their own: they would blank everything

# A secret-looking name: DB_PASSWORD, WP_REDIS_PASSWORD, AUTH_KEY, NONCE_SALT, api_token, pwd ...
# The web servers' own *_pass directives (and the fix ids named after them: "realign-fastcgi-pass:
# point fastcgi_pass at ...") name where requests go, not a password: masking them hid every realign
# plan's first line on the console.  A bare "pass" is a name's own word (DB_PASS, smtp-pass), not a
# part of one: "origin_status_bypassing_edge" masked the origin's status in every bundle.
_NOT_A_PASSWORD = "".join(f"(?<!{w}[_-])" for w in ("fastcgi", "proxy", "uwsgi", "scgi", "grpc", "memcached"))
NAME = (
    rf"[A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)|{_NOT_A_PASSWORD}(?<!by)pass(?![A-Za-z])|pwd|secret|token|salt|_key|auth_key|apikey|credentials?)"
    r"[A-Za-z0-9_]*"
)
_NAME_RE = re.compile(rf"(?i)\b{NAME}\b")
_QUOTED = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
# Each shape: group "pre" is kept, group "val" is the secret.
_SHAPES = [
    # define('NAME', 'v') and 'NAME' => 'v' (PHP), "NAME": "v" (JSON)
    re.compile(rf"""(?P<pre>(?:define\s*\(\s*)?['"](?i:{NAME})['"]\s*(?:,|=>|:)\s*)(?P<val>{_QUOTED})"""),
    # env[NAME] = v (FPM pool), NAME = v / NAME=v / NAME: v, to the end of the line (spaces too)
    re.compile(
        rf"""(?P<pre>(?:env\[)?\b(?i:{NAME})\]?['"]?[ \t]*(?:=>|[=:])[ \t]*)(?P<val>{_QUOTED}|[^\s'"&;][^\n&;]*?)"""
        r"""(?=[ \t]*(?:$|[\n&;]|\s+\S+=))""",
        re.M,
    ),
    # fastcgi_param NAME value; (nginx)   SetEnv / PassEnv-like NAME value (Apache)
    re.compile(
        rf"""(?P<pre>\b(?i:fastcgi_param|SetEnv|SetEnvIf\S*|env)[ \t]+(?i:{NAME})[ \t]+)"""
        rf"""(?P<val>{_QUOTED}|[^;\n]+?)(?=[ \t]*(?:;|$))""",
        re.M,
    ),
    # --password=v / -pv style options
    re.compile(r"""(?P<pre>--password[= ])(?P<val>\S+)"""),
    # scheme://user:password@host
    re.compile(r"""(?P<pre>\b[a-z][a-z0-9+.-]*://[^\s:/@'"]*:)(?P<val>[^\s@/'"]+)(?=@)""", re.I),
]
# A whole key, or one cut short (a truncated log line or excerpt): everything after BEGIN goes.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|.*)", re.S
)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _mask(m: re.Match[str]) -> str:
    val = m.group("val")
    if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
        return f"{m.group('pre')}{val[0]}{MASK}{val[0]}"
    return f"{m.group('pre')}{MASK}"


def secret_values(text: str) -> Iterator[str]:
    """The values the shapes find in ``text`` (what to mask elsewhere too)."""
    yield from _text_values(text)


@functools.lru_cache(maxsize=2048)
def _text_values(text: str) -> tuple[str, ...]:
    """Cached by the text itself (a pure function of it): a host's files are scanned when its evidence
    is parsed and again for the report, and fleets share most files (mime.types, the stock pool file);
    the five shapes cost ~10 ms per host's evidence."""
    found = []
    for shape in _SHAPES:
        for m in shape.finditer(text):
            value = _unquote(m.group("val"))
            if len(value) >= MIN_VALUE and value != MASK:
                found.append(value)
    return tuple(found)


class Redactor:
    """Masks secret shapes, then every known secret value, in text and in JSON-like values."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.learn(values)

    @classmethod
    def from_facts(cls, facts: HostFacts | None) -> Redactor:
        """The values one host showed: its config files (pool env[...], vhost SetEnv/fastcgi_param,
        a wp-config.php if one was read), log lines, test outputs and notes."""
        return cls(_facts_values(facts) if facts is not None else ())

    def learn(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= MIN_VALUE and v != MASK}
        with self._lock:
            if new - self._values:
                self._values |= new
                ordered = sorted(self._values, key=len, reverse=True)  # longest first: no partial masks
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def with_facts(self, facts: Iterable[HostFacts | None]) -> Redactor:
        """This redactor if it already masks every value these hosts showed (the usual case: the
        parser taught them to :data:`KNOWN`), else a copy that masks them too — one pattern
        compiled, where merging host by host compiled one per host (quadratic in the fleet)."""
        new = {v for f in facts if f is not None for v in _facts_values(f) if len(v) >= MIN_VALUE and v != MASK}
        with self._lock:
            if new <= self._values:
                return self
            values = self._values | new
        return Redactor(values)

    def merged(self, other: Redactor) -> Redactor:
        with other._lock:
            values = set(other._values)
        out = Redactor(values)
        out.learn(self._values)
        return out

    def text(self, text: str) -> str:
        text = _PRIVATE_KEY.sub("[redacted private key]", text)
        for shape in _SHAPES:
            text = shape.sub(_mask, text)
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def obj(self, value: _T) -> _T:
        """Same shape back (tuples become lists, as JSON would make them anyway)."""
        if isinstance(value, str):
            return cast(_T, self.text(value))
        if isinstance(value, dict):
            return cast(_T, {k: self.obj(v) for k, v in value.items()})
        if isinstance(value, list | tuple):
            return cast(_T, [self.obj(v) for v in value])
        return value


def _facts_values(facts: HostFacts) -> Iterator[str]:
    texts: list[str] = list(facts.files.values())
    texts += [line.text for line in [*facts.logs, *facts.wordpress.logs]]
    texts += [facts.web.config_test_output, *(s.config_test_output for s in facts.fpm), *facts.notes]
    for text in texts:
        yield from secret_values(text)


#: Every value any host showed in this process: the console and reports mask them all.
KNOWN = Redactor()


def remember_facts(facts: HostFacts) -> None:
    KNOWN.learn(_facts_values(facts))


def redact(text: str) -> str:
    return KNOWN.text(text)


def redact_obj(value: _T) -> _T:
    return KNOWN.obj(value)
