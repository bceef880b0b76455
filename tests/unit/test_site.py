"""The site's own chain: the server block nginx would serve site_url from decides which targets
count; other sites' blocks (and their own error logs) are not this site's facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediations.facts import parsers as p
from remediations.facts import site

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "configs"

CONF = """\
http {
    server { listen 80 default_server; server_name _; root /var/www/html; fastcgi_pass unix:/run/default.sock; }
    server { listen 80; server_name shop.example.com; error_log /var/log/nginx/shop.error.log;
             location ~ \\.php$ { fastcgi_pass unix:/run/shop.sock; } }
    server { listen 80; server_name *.example.com; location ~ \\.php$ { fastcgi_pass unix:/run/wild.sock; } }
    server { listen 80; server_name ~^blog\\d+\\.example\\.org$; fastcgi_pass unix:/run/regex.sock; }
    server { listen 10.0.0.5:8080; server_name shop.example.com; fastcgi_pass unix:/run/addr.sock; }
    include sites/*.conf;
}
"""
SITE = (
    "server { listen 80; server_name blog.example.net; error_log /var/log/nginx/blog.error.log;\n"
    "  location ~ \\.php$ { include snippets/php.conf; } }\n"
)
SNIPPET = "fastcgi_pass unix:/run/blog.sock;\n"
FILES = {"/etc/nginx/nginx.conf": CONF, "/etc/nginx/sites/blog.conf": SITE, "/etc/nginx/snippets/php.conf": SNIPPET}


@pytest.mark.parametrize(
    ("url", "address", "sock"),
    [
        ("http://shop.example.com/", None, "/run/shop.sock"),  # exact name
        ("http://www.example.com/", None, "/run/wild.sock"),  # leading wildcard
        ("http://blog7.example.org/", None, "/run/regex.sock"),  # regex
        ("http://unknown.test/", None, "/run/default.sock"),  # default_server
        ("http://shop.example.com:8080/", "10.0.0.5", "/run/addr.sock"),  # address-specific listen
        ("http://blog.example.net/", None, "/run/blog.sock"),  # through an include and a snippet
    ],
)
def test_the_block_nginx_would_choose_gives_the_targets(url: str, address: str | None, sock: str) -> None:
    cfg = p.parse_nginx_config(FILES, url, address)
    assert [t.address for t in cfg.fastcgi_targets] == [sock]
    assert cfg.site is not None


def test_other_sites_error_logs_are_foreign() -> None:
    cfg = p.parse_nginx_config(FILES, "http://blog.example.net/", None)
    assert cfg.foreign_logs == ["/var/log/nginx/shop.error.log"]
    assert cfg.site is not None and cfg.site.startswith("/etc/nginx/sites/blog.conf:1 ")


def test_without_a_site_every_block_counts() -> None:
    assert len(p.parse_nginx_config(FILES).fastcgi_targets) == 6


def corpus_files(case: str) -> dict[str, str]:
    root = CORPUS / case
    if not root.is_dir():
        pytest.skip("../shared/corpus/configs is not here")
    files = {"/" + str(f.relative_to(root)): f.read_text() for f in sorted(root.rglob("*")) if f.is_file()}
    main = next(k for k in files if k.endswith("/nginx.conf"))
    return {main: files.pop(main), **files}


@pytest.mark.parametrize(
    ("url", "expect_file"),
    [
        ("https://single-site.com/", "/etc/nginx/sites-enabled/single-site.com"),
        ("https://single-site-with-caching.com/", "/etc/nginx/sites-enabled/single-site-with-caching.com"),
    ],
)
def test_spinupwp_two_sites_on_one_host(url: str, expect_file: str) -> None:
    """SpinupWP's configs (n08): two WordPress sites, each with its own PHP location; only the
    chosen site's location counts (both use fastcgi_pass $upstream, set in a shared include)."""
    cfg = p.parse_nginx_config(corpus_files("n08-spinupwp"), url, None)
    assert cfg.site is not None and cfg.site.startswith(expect_file + ":")
    found = [d.file for d in cfg.unresolved_targets] + [t.directive.file for t in cfg.fastcgi_targets]
    assert found and set(found) == {expect_file}, found


def test_select_reads_ports_from_the_url() -> None:
    blocks = site.servers(site.expand({k: p.parse_nginx_file(k, v) for k, v in FILES.items()}, "/etc/nginx/nginx.conf"))
    assert site.select(blocks, "http://shop.example.com:9999/", None) is None
