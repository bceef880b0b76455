"""Find and retarget Apache's PHP-FPM handlers (``SetHandler proxy:…``, ``ProxyPass[Match] fcgi://…``).

Apache has no parser library we can lean on, so this reads directives the way httpd does
(``ap_cfg_getline`` + ``ap_getword_conf``): a trailing backslash continues a line, ``#`` starts
a comment only at the beginning of a line, arguments may be ``"quoted"`` or ``'quoted'``.
Only the part of the target naming the FPM socket or host:port is rewritten; the quotes, the
``|fcgi://name`` worker name and any path after it (``/var/www/$1``) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from remediations.edit import EditError
from remediations.endpoint import Endpoint, EndpointError

__all__ = ["FcgiTarget", "Handler", "find_handlers", "parse_target", "set_handler_target"]

_HANDLER_DIRECTIVES = {"sethandler", "proxypass", "proxypassmatch"}
_TARGET = re.compile(
    r"(?P<prefix>proxy:)?"
    r"(?:unix:(?P<path>[^|]*)\|(?P<worker>fcgi://[^/]*)"
    r"|fcgi://(?P<host>\[[^\]]*\]|[^/:\[]*)(?::(?P<port>[0-9]+))?)"
    r"(?P<suffix>.*)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class FcgiTarget:
    """A handler URL split into what we change (the endpoint) and what we keep around it."""

    prefix: str  # "proxy:" for SetHandler, "" for ProxyPass[Match]
    endpoint: Endpoint
    worker: str  # "fcgi://localhost" after "unix:…|"; "" for tcp
    suffix: str  # path after the authority, e.g. "/var/www/$1"

    def with_endpoint(self, endpoint: Endpoint) -> str:
        """The same URL aimed at ``endpoint`` (a tcp→unix switch names the worker fcgi://localhost)."""
        if endpoint.kind == "unix":
            return f"{self.prefix}unix:{endpoint.address}|{self.worker or 'fcgi://localhost'}{self.suffix}"
        return f"{self.prefix}fcgi://{endpoint.address}{self.suffix}"


def parse_target(raw: str) -> FcgiTarget | None:
    """Split a handler URL; ``None`` for anything that is not a PHP-FPM (fcgi) target."""
    m = _TARGET.fullmatch(raw)
    if m is None:
        return None
    try:
        endpoint = Endpoint.from_apache_handler(raw)
    except EndpointError:
        return None
    if endpoint is None:
        return None
    return FcgiTarget(m["prefix"] or "", endpoint, m["worker"] or "", m["suffix"])


class Handler(NamedTuple):
    line: int  # where the directive starts (1-based)
    directive: str  # as written, e.g. "SetHandler"
    target: str  # the handler URL as Apache reads it (quotes removed)

    @property
    def endpoint(self) -> Endpoint:
        parsed = parse_target(self.target)
        assert parsed is not None  # find_handlers only returns parsable targets
        return parsed.endpoint


@dataclass(frozen=True)
class _Word:
    value: str
    start: int  # offset in the text of the first character of the value (inside quotes)
    end: int
    quote: str  # "" when unquoted


@dataclass(frozen=True)
class _Directive:
    line: int
    words: list[_Word]


def _continues(text: str, i: int) -> bool:
    """A backslash right before the line break: httpd joins the next line to this one."""
    return text[i] == "\\" and text[i + 1 : i + 2] in ("\n", "\r")


def _words(text: str, start: int, end: int) -> list[_Word]:
    """``ap_getword_conf`` over ``text[start:end]``, with continuation backslashes as blanks."""
    words: list[_Word] = []
    i = start
    while i < end:
        ch = text[i]
        if ch.isspace() or _continues(text, i):
            i += 1
            continue
        if ch in "\"'":
            j = i + 1
            while j < end and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            j = min(j, end)
            words.append(_Word(text[i + 1 : j].replace("\\" + ch, ch), i + 1, j, ch))
            i = j + 1
            continue
        j = i
        while j < end and not text[j].isspace() and not _continues(text, j):
            j += 1
        words.append(_Word(text[i:j], i, j, ""))
        i = j
    return words


def _directives(text: str) -> list[_Directive]:
    out: list[_Directive] = []
    lines = text.splitlines(keepends=True)
    offset, number = 0, 1
    i = 0
    while i < len(lines):
        first, start = number, offset
        end = offset
        while True:  # join continuation lines: one logical line per directive
            body = lines[i].rstrip("\r\n")
            end = offset + len(body)
            offset += len(lines[i])
            number += 1
            i += 1
            if not body.endswith("\\") or i >= len(lines):
                break
        stripped = text[start:end].lstrip()
        if stripped and not stripped.startswith("#"):
            out.append(_Directive(first, _words(text, start, end)))
    return out


def _handler_words(d: _Directive) -> tuple[str, _Word, FcgiTarget] | None:
    if not d.words or d.words[0].value.lower() not in _HANDLER_DIRECTIVES:
        return None
    name = d.words[0].value
    found = [(w, t) for w in d.words[1:] if (t := parse_target(w.value)) is not None]
    wants_prefix = name.lower() == "sethandler"
    found = [(w, t) for w, t in found if bool(t.prefix) == wants_prefix]
    if len(found) > 1:
        raise EditError(f"line {d.line}: {name} has {len(found)} fcgi targets; ambiguous")
    return (name, *found[0]) if found else None


def find_handlers(text: str) -> list[Handler]:
    """Every active SetHandler/ProxyPass/ProxyPassMatch that sends requests to PHP-FPM.

    Commented lines are skipped; ``<IfModule>`` and friends are not evaluated (the caller
    knows which modules are loaded).
    """
    handlers: list[Handler] = []
    for d in _directives(text):
        found = _handler_words(d)
        if found is not None:
            name, word, _ = found
            handlers.append(Handler(d.line, name, word.value))
    return handlers


def _endpoint(new_target: str) -> Endpoint:
    value = new_target.strip()
    if value.lower().startswith("unix:"):
        value = value[len("unix:") :]
    try:
        return Endpoint.from_listen(value).dial()
    except EndpointError as exc:
        raise EditError(str(exc)) from None


def set_handler_target(text: str, line: int, new_target: str) -> str:
    """Point the FPM handler that starts on ``line`` at ``new_target``.

    ``new_target`` is a socket path (``/run/php/php8.2-fpm.sock``, ``unix:`` optional) or an
    FPM ``listen`` style address (``127.0.0.1:9000``, ``9000``, ``[::1]:9000``).
    """
    endpoint = _endpoint(new_target)
    matches = [d for d in _directives(text) if d.line == line]
    found = _handler_words(matches[0]) if matches else None
    if found is None:
        raise EditError(f"no SetHandler/ProxyPass/ProxyPassMatch with an fcgi target on line {line}")
    name, word, target = found
    new_value = target.with_endpoint(endpoint)
    if new_value == word.value:
        return text
    if word.quote and word.quote in new_value:
        raise EditError(f"cannot put {new_value!r} inside {word.quote}quotes{word.quote}")
    if word.quote and "\\" in text[word.start : word.end]:
        raise EditError(f"line {line}: escaped quotes in the {name} target; not editing")
    rendered = new_value
    if not word.quote and any(c.isspace() or c in "\"'" for c in new_value):
        rendered = '"' + new_value + '"'
    after = text[: word.start] + rendered + text[word.end :]
    check = [h for h in find_handlers(after) if h.line == line]
    if len(check) != 1 or check[0].target != new_value:
        raise EditError(f"line {line}: re-reading the edit does not show {name} {new_value}; refusing")
    return after
