"""``nginx -T`` gives each file back byte for byte (fact fixture: command, real output, files).

A third of real site files end without a newline or with blank lines; when the parsed text was
not the file's bytes, every edit's ``before`` mismatched and the journal refused to write."""

from __future__ import annotations

from pathlib import Path

from remediations.facts.parsers import short_dump_files, split_nginx_dump

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


def sizes_of(names: list[str]) -> str:
    return "".join(f"{len((FIXTURE / n).read_bytes())} /tmp/ngx/{n}\n" for n in names)


def test_the_real_dump_matches_the_files_sizes() -> None:
    _, files = split_nginx_dump((FIXTURE / "nginx-T.txt").read_bytes().decode())
    assert short_dump_files(files, sizes_of(NAMES)) == []


def test_a_forged_file_boundary_leaves_its_file_short() -> None:
    """A file that contains a '# configuration file' line: the split takes the rest for another
    file, so the forger's own file is shorter than its size on disk (and the claimed path has none)."""
    real = (FIXTURE / "nginx-T.txt").read_bytes().decode()
    forged_line = "# configuration file /etc/nginx/conf.d/zz.conf:\n"
    dump = real.replace(
        "# configuration file /tmp/ngx/conf.d/d-empty.conf:\n",
        "# configuration file /tmp/ngx/conf.d/d-empty.conf:\n" + forged_line + "server { }\n",
    )
    _, files = split_nginx_dump(dump)
    assert "/etc/nginx/conf.d/zz.conf" in files  # the split alone is fooled ...
    sizes = sizes_of(NAMES[:-1]) + f"{len(forged_line) + len('server { }')} /tmp/ngx/conf.d/d-empty.conf\n"
    assert short_dump_files(files, sizes) == ["/etc/nginx/conf.d/zz.conf", "/tmp/ngx/conf.d/d-empty.conf"]


def test_invalid_utf8_comes_back_longer_and_passes() -> None:
    files = {"/etc/nginx/x.conf": "# se\ufffdor\n"}  # one Latin-1 byte, decoded as U+FFFD (3 bytes)
    assert short_dump_files(files, "9 /etc/nginx/x.conf\n") == []
    assert short_dump_files(files, "99 /etc/nginx/x.conf\n") == ["/etc/nginx/x.conf"]  # grew meanwhile
