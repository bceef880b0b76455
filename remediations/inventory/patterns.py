"""Ansible host patterns (``all``, ``web:&db``, ``web*:!web3``, ``~re``, ``web[0:2]``, ``a,b``).

Written after ansible-core's ``InventoryManager`` (``split_host_pattern``, ``order_patterns``,
``_evaluate_patterns``, ``_match_one_pattern``, ``_enumerate_matches``, subscripts), so the
same pattern selects the same hosts in the same order.  One deliberate difference: a term that
matches no host *and* no group is an error, not a warning — a typo in ``!web3`` must not
silently leave web3 in a run that changes production.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping

from remediations.errors import InventoryError

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_ADDRESS = re.compile(r"^(?:[A-Za-z0-9._\[\]-]+(?::[0-9]+)?|\[?[0-9a-fA-F:]+\]?)$")

NoMatch = Callable[[str], InventoryError]


def split(pattern: str) -> list[str]:
    """``split_host_pattern``: commas if any; else one address (``h:22``, IPv6) or ':'-separated terms."""
    if "," in pattern:
        parts = pattern.split(",")
    elif _is_address(pattern):
        parts = [pattern]
    else:
        parts = _TERMS.findall(pattern)
        if re.sub(r"[\s:]", "", "".join(parts)) != re.sub(r"[\s:]", "", pattern):
            raise InventoryError(f"--limit {pattern!r}: unbalanced '[' (use ',' to separate such patterns)")
    return [p.strip() for p in parts if p.strip()]


def _is_address(pattern: str) -> bool:
    stripped = pattern.strip()
    if stripped.count(":") == 0:
        return True
    if stripped.count(":") == 1:
        return bool(re.fullmatch(r"[^:\s]+:[0-9]+", stripped)) and "[" not in stripped.split(":")[0][-1:]
    return bool(re.fullmatch(r"\[?[0-9a-fA-F:]+\]?(?::[0-9]+)?", stripped))


def order(patterns: list[str]) -> list[str]:
    """``order_patterns``: plain terms, then ``&`` terms, then ``!`` terms; none plain means ``all``."""
    regular = [p for p in patterns if p[0] not in "!&"]
    intersect = [p for p in patterns if p[0] == "&"]
    exclude = [p for p in patterns if p[0] == "!"]
    return [*(regular or ["all"]), *intersect, *exclude]


def _subscript(pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    if pattern.startswith("~"):
        return pattern, None
    match = _SUBSCRIPT.match(pattern)
    if not match:
        return pattern, None
    expr, idx, start, _sep, end = match.groups()
    if idx:
        return expr, (int(idx), None)
    return expr, (int(start), int(end) if end else -1)


def _apply(hosts: list[str], subscript: tuple[int, int | None] | None, term: str, label: str) -> list[str]:
    if not hosts or not subscript:
        return hosts
    start, end = subscript
    if end:  # Ansible: an end of 0 falls through to a single index
        if end == -1:
            end = len(hosts) - 1
        return hosts[start : end + 1]
    if not -len(hosts) <= start < len(hosts):
        raise InventoryError(f"{label}: --limit {term!r}: index {start} is out of range ({len(hosts)} hosts)")
    return [hosts[start]]


class Matcher:
    """Pattern evaluation over one inventory: group names in definition order, each group's hosts
    in ``Group.get_hosts`` order, host names in definition order."""

    def __init__(self, label: str, groups: Mapping[str, list[str]], hosts: Iterable[str], no_match: NoMatch) -> None:
        self.label = label
        self.groups = groups
        self.hosts = list(hosts)
        self.known = set(self.hosts)
        self.no_match = no_match

    def _regex(self, pattern: str, term: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern[1:]) if pattern.startswith("~") else re.compile(fnmatch.translate(pattern))
        except re.error as exc:
            raise InventoryError(f"{self.label}: --limit {term!r}: bad regular expression: {exc}") from None

    def _enumerate(self, pattern: str, term: str) -> tuple[list[str], bool]:
        regex = self._regex(pattern, term)
        groups = [g for g in self.groups if regex.match(g)]
        found: list[str] = []
        for group in groups:
            found.extend(self.groups[group])
        if not groups or pattern[0] == "~" or any(c in pattern for c in ".?*["):
            found.extend(h for h in self.hosts if regex.match(h))
        return found, bool(groups)

    def one(self, term: str) -> list[str]:
        """``_match_one_pattern``; a term naming an empty group matches no host but is no error."""
        pattern = term[1:] if term[0] in "&!" else term
        if not pattern:
            raise InventoryError(f"{self.label}: --limit {term!r} names nothing")
        expr, subscript = _subscript(pattern)
        found, any_group = self._enumerate(expr, term)
        if not found and not any_group:
            raise self.no_match(term)
        return list(dict.fromkeys(_apply(found, subscript, term, self.label)))

    def evaluate(self, spec: str) -> list[str]:
        """``get_hosts(pattern)``: host names in Ansible's order."""
        terms = split(spec)
        if not terms:
            raise InventoryError(f"{self.label}: --limit {spec!r} is empty")
        hosts: list[str] = []
        for term in order(terms):
            that = [term] if term in self.known else self.one(term)
            if term[0] == "!":
                drop = set(that)
                hosts = [h for h in hosts if h not in drop]
            elif term[0] == "&":
                keep = set(that)
                hosts = [h for h in hosts if h in keep]
            else:
                hosts.extend(h for h in that if h not in hosts)
        return list(dict.fromkeys(hosts))
