"""``nginx -T`` gives each file back byte for byte (fact fixture: command, real output, files).

A third of real site files end without a newline or with blank lines; when the parsed text was
not the file's bytes, every edit's ``before`` mismatched and the journal refused to write."""

from __future__ import annotations

from pathlib import Path

from remediations.facts.parsers import split_nginx_dump

FIXTURE = Path(__file__).parent / "fixtures" / "nginx-dump"
NAMES = [
    "nginx.conf",
    "conf.d/a-no-final-newline.conf",
    "conf.d/b-trailing-blank-lines.conf",
    "conf.d/c-crlf.conf",
    "conf.d/d-empty.conf",
]


def test_every_file_comes_back_byte_for_byte() -> None:
    head, files = split_nginx_dump((FIXTURE / "nginx-T.txt").read_bytes().decode())
    assert head.endswith("test is successful")
    assert list(files) == [f"/tmp/ngx/{n}" for n in NAMES]
    for name in NAMES:
        assert files[f"/tmp/ngx/{name}"] == (FIXTURE / name).read_bytes().decode(), name


def test_a_failed_test_has_no_files() -> None:
    head, files = split_nginx_dump('nginx: [emerg] unknown directive "fastcgi_pas" in /etc/nginx/x.conf:3\n')
    assert files == {} and "unknown directive" in head
