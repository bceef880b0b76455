"""Property tests: hostile names never load, and selection agrees with fnmatch and set algebra."""

from __future__ import annotations

import fnmatch
import io
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from remediations.errors import InventoryError
from remediations.inventory import Inventory, load_inventory

SAFE = "abcdefghijklmnopqrstuvwxyz0123456789_"
HOSTILE = list(";&|$`<>()\\'\"*?{}!#~^ \t\n\r\x00")

safe_names = st.text(SAFE, min_size=1, max_size=8)


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """A name with a shell metacharacter, whitespace, newline or NUL somewhere, or a leading dash."""
    head = draw(st.text(SAFE + ".-", max_size=6))
    tail = draw(st.text(SAFE + ".-", max_size=6))
    if draw(st.booleans()):
        return "-" + head + tail
    return head + draw(st.sampled_from(HOSTILE)) + tail


def load_doc(doc: dict[str, Any]) -> tuple[Path, Inventory | InventoryError]:
    """Write ``doc`` as a real inventory file, load it, and report what happened."""
    yaml = YAML()
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    with tempfile.TemporaryDirectory(prefix="inv-props-") as directory:
        path = Path(directory) / "hosts.yml"
        path.write_text(buffer.getvalue())
        try:
            return path, load_inventory(path)
        except InventoryError as exc:
            return path, exc


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(name=hostile())
def test_hostile_host_names_are_refused(name: str) -> None:
    path, result = load_doc({"all": {"hosts": {name: {"ansible_host": "127.0.0.1"}}}})
    assert isinstance(result, InventoryError), f"host name {name!r} was accepted"
    text = result.one_line()
    assert text.startswith(f"{path}:3:")  # file:line:col of the host key
    assert repr(name) in text
    assert "\n" not in text


@PROPS
@given(value=hostile(), key=st.sampled_from(["ansible_user", "ansible_host"]))
def test_hostile_users_and_addresses_are_refused(value: str, key: str) -> None:
    path, result = load_doc({"all": {"hosts": {"web1": {key: value}}}})
    assert isinstance(result, InventoryError), f"{key} {value!r} was accepted"
    text = result.one_line()
    assert text.startswith(f"{path}:")
    assert f"host web1: {key}" in text
    assert "\n" not in text


@PROPS
@given(value=st.text(min_size=0, max_size=6).map(lambda s: "-" + s) | hostile().filter(lambda s: "\n" in s))
def test_key_paths_with_dash_or_newline_are_refused(value: str) -> None:
    assume(value.startswith("-") or "\n" in value or "\r" in value or "\x00" in value)
    _, result = load_doc({"all": {"hosts": {"web1": {"ansible_ssh_private_key_file": value}}}})
    assert isinstance(result, InventoryError), f"key path {value!r} was accepted"
    assert "host web1: ansible_ssh_private_key_file" in result.one_line()


@PROPS
@given(port=st.integers() | st.booleans() | st.text(max_size=5))
def test_ports_outside_range_are_refused(port: Any) -> None:
    _, result = load_doc({"all": {"hosts": {"web1": {"ansible_port": port}}}})
    digits = isinstance(port, str) and re.fullmatch(r"[0-9]{1,5}", port.strip()) is not None
    valid = (type(port) is int and 1 <= port <= 65535) or (digits and 1 <= int(port) <= 65535)
    if valid:
        assert isinstance(result, Inventory)
        assert result.hosts["web1"].port == int(port)
    else:
        assert isinstance(result, InventoryError)


# --- selection consistency ----------------------------------------------------------------------

host_sets = st.lists(st.text("abw12", min_size=1, max_size=4), min_size=1, max_size=8, unique=True)
patterns = st.text("abw12*?", min_size=1, max_size=4)


def inventory_of(hosts: list[str], in_g1: list[bool]) -> Inventory:
    g1 = {h: None for h, flag in zip(hosts, in_g1, strict=False) if flag}
    rest = {h: None for h, flag in zip(hosts, in_g1, strict=False) if not flag}
    doc: dict[str, Any] = {"all": {"hosts": rest, "children": {"g1": {"hosts": g1}}}}
    _, result = load_doc(doc)
    assert isinstance(result, Inventory)
    return result


def matching(inv: Inventory, pattern: str) -> set[str]:
    return {h for h in inv.hosts if fnmatch.fnmatchcase(h, pattern)}


def select_names(inv: Inventory, **kwargs: str) -> set[str] | None:
    try:
        return {h.name for h in inv.select(**kwargs)}
    except InventoryError:
        return None


@PROPS
@given(hosts=host_sets, flags=st.lists(st.booleans(), min_size=8, max_size=8), a=patterns, b=patterns)
def test_selection_matches_fnmatch_and_set_algebra(hosts: list[str], flags: list[bool], a: str, b: str) -> None:
    inv = inventory_of(hosts, flags)
    ma, mb = matching(inv, a), matching(inv, b)

    # --host is fnmatch over host names, in inventory order; nothing matched is an error
    assert select_names(inv, host=a) == (ma or None)
    if ma:
        assert [h.name for h in inv.select(host=a)] == [h for h in inv.hosts if h in ma]

    # a limit term also matches group names; when neither pattern can match "g1" the limit
    # algebra must be plain set algebra over the fnmatch results
    # (ansible-core matches globs against "all" and "ungrouped" too)
    group_free = not any(fnmatch.fnmatchcase(g, p) for g in ("g1", "all", "ungrouped") for p in (a, b))
    if ma and mb and group_free:
        assert select_names(inv, host=f"{a},{b}") == ma | mb
        assert select_names(inv, limit=f"{a},{b}") == ma | mb
        assert select_names(inv, limit=f"{a},!{b}") == ((ma - mb) or None)
        assert select_names(inv, limit=f"{a},&{b}") == ((ma & mb) or None)
        assert select_names(inv, limit=f"!{b}") == ((set(inv.hosts) - mb) or None)
    elif group_free:
        assert select_names(inv, limit=f"{a},!{b}") is None  # a term matching nothing is an error

    g1 = inv.groups["g1"]
    if g1 and ma and not any(fnmatch.fnmatchcase(g, a) for g in ("g1", "all", "ungrouped")):
        assert select_names(inv, group="g1", host=a) == ((g1 & ma) or None)
        assert select_names(inv, limit=f"g1,&{a}") == ((g1 & ma) or None)
