"""The example inventory shipped at inventory/ (the default --inventory) loads as documented, and
its group_vars cannot leak into the lab inventory that `invoke lab.up` copies beside it."""

from __future__ import annotations

from pathlib import Path

from remediations.inventory import load_inventory

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


def test_example_inventory_resolves() -> None:
    inv = load_inventory(INVENTORY / "hosts.yml")
    assert list(inv.hosts) == ["blog1", "shop1", "news1", "news2"]
    news2 = inv.hosts["news2"]
    assert (news2.address, news2.user, news2.become) == ("news2.us.example.com", "deploy", True)
    assert news2.vars["site_url"] == "https://news2.example.com/"
    assert inv.hosts["shop1"].port == 2222 and inv.hosts["blog1"].port is None


def test_example_vars_files_only_name_the_example_groups() -> None:
    # inventory/lab.yml (hosts web1.., group "lab") sits beside them: nothing may apply to it
    names = {p.stem for p in (INVENTORY / "group_vars").iterdir()}
    assert names == {"wordpress"}
    assert not (INVENTORY / "host_vars").exists()
