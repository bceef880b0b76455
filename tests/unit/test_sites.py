"""Several sites on one host (``sites`` host var): one host result from the sites' results."""

from __future__ import annotations

from remediations.results import FixResult, HostResult, Status, merge_sites


def site(status: Status, causes: list[str], *actions: FixResult, bundle: str | None = None) -> HostResult:
    return HostResult("web1", status=status, causes=causes, actions=list(actions), bundle=bundle)


def test_the_worst_site_decides_and_every_site_is_kept() -> None:
    a = site(Status.FIXED, ["socket-mismatch"], FixResult("realign-fastcgi-pass", changed=True, verified=True))
    b = site(Status.ESCALATED, ["fpm-config-error"], bundle="reports/escalations/r-web1-site2.md")
    c = site(Status.HEALTHY, ["healthy"])
    whole = merge_sites("web1", {"https://a/": a, "https://b/": b, "https://c/": c})
    assert whole.status == Status.ESCALATED
    assert whole.causes == ["socket-mismatch", "fpm-config-error"]  # "healthy" is not a cause of a sick host
    assert [x.id for x in whole.actions] == ["realign-fastcgi-pass"]
    assert whole.bundle == "reports/escalations/r-web1-site2.md"
    report = whole.as_json()
    assert list(report["sites"]) == ["https://a/", "https://b/", "https://c/"]
    assert report["sites"]["https://c/"]["status"] == "healthy"


def test_all_healthy_sites_make_a_healthy_host() -> None:
    whole = merge_sites(
        "web1", {"https://a/": site(Status.HEALTHY, ["healthy"]), "https://b/": site(Status.HEALTHY, ["healthy"])}
    )
    assert whole.status == Status.HEALTHY and whole.causes == ["healthy"] and whole.error is None


def test_a_failed_site_outranks_a_fixed_one_and_says_which_site() -> None:
    bad = site(Status.FAILED, [])
    bad.error = "nginx -t failed"
    whole = merge_sites("web1", {"https://a/": site(Status.FIXED, ["fpm-down"]), "https://b/": bad})
    assert whole.status == Status.FAILED and whole.error == "https://b/: nginx -t failed"


def test_a_workers_result_keeps_its_sites_over_the_wire() -> None:
    """--executor: a host's per-site results survive the JSON a worker sends the controller."""
    from remediations.distributed import codec

    whole = merge_sites(
        "web1", {"https://a/": site(Status.FIXED, ["fpm-down"]), "https://b/": site(Status.HEALTHY, ["healthy"])}
    )
    back = codec.decode(codec.encode(whole))
    assert back.as_json() == whole.as_json() and list(back.sites) == ["https://a/", "https://b/"]
