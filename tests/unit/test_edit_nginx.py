"""The nginx editor changes exactly the intended bytes, and nginx itself still accepts the result."""

from __future__ import annotations

import difflib
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import crossplane
import pytest
from crossplane.lexer import _lex_file_object
from hypothesis import given, settings
from hypothesis import strategies as st

from remediations.edit import EditError
from remediations.edit.nginx import (
    ensure_directive_in_block,
    ensure_directives_in_block,
    find_directives,
    render_arg,
    set_directive_args,
)
from remediations.nginxconf import lex as _lex

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
WORDPRESS = (CONFIGS / "handwritten" / "nginx-wordpress.conf").read_text()
DEBIAN_DEFAULT = (CONFIGS / "debian12" / "nginx-sites-available-default").read_text()
DEBIAN_NGINX_CONF = (CONFIGS / "debian12" / "nginx.conf").read_text()
SNIPPET = (CONFIGS / "debian12" / "nginx-snippets-fastcgi-php.conf").read_text()
PASS_LINE = 21  # fastcgi_pass in the WordPress fixture


def changes(before: str, after: str) -> list[str]:
    """Only the -/+ lines of a diff: what a reviewer would see changed."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def parse_text(tmp_path: Path, text: str) -> list[dict[str, Any]]:
    """crossplane's own tree of ``text`` (it only parses files, hence tmp_path)."""
    path = tmp_path / "parse.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, check_ctx=False, comments=False)
    assert payload["status"] == "ok", payload["errors"]
    parsed: list[dict[str, Any]] = payload["config"][0]["parsed"]
    return parsed


def without_lines(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (without_lines(v) if k == "block" else v) for k, v in d.items() if k != "line"} for d in tree]


def test_fixture_has_the_pass_line_where_the_tests_expect_it() -> None:
    assert WORDPRESS.splitlines()[PASS_LINE - 1].strip().startswith("fastcgi_pass")
    assert find_directives(WORDPRESS, "fastcgi_pass") == [(PASS_LINE, ["unix:/run/php/php8.1-fpm.sock"])]


def test_set_fastcgi_pass_changes_only_the_argument() -> None:
    after = set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", ["unix:/run/php/php8.2-fpm.sock"])
    assert changes(WORDPRESS, after) == [
        "-\t\tfastcgi_pass  unix:/run/php/php8.1-fpm.sock;   # PHP 8.1 pool (old)\n",
        "+\t\tfastcgi_pass  unix:/run/php/php8.2-fpm.sock;   # PHP 8.1 pool (old)\n",
    ]
    assert after == WORDPRESS.replace("php8.1-fpm.sock", "php8.2-fpm.sock")


def test_set_to_tcp_and_more_arguments() -> None:
    after = set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", ["127.0.0.1:9000"])
    assert changes(WORDPRESS, after)[1] == "+\t\tfastcgi_pass  127.0.0.1:9000;   # PHP 8.1 pool (old)\n"
    two = set_directive_args(WORDPRESS, 8, "index", ["index.php"])
    assert changes(WORDPRESS, two) == ["-\tindex index.php   index.html;\n", "+\tindex index.php;\n"]
    none = set_directive_args(WORDPRESS, 8, "index", [])
    assert changes(WORDPRESS, none)[1] == "+\tindex;\n"


def test_unchanged_args_return_the_same_text() -> None:
    same = set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", ["unix:/run/php/php8.1-fpm.sock"])
    assert same is WORDPRESS


def test_values_that_need_quotes_are_quoted_and_quoted_args_keep_their_quotes() -> None:
    spaced = set_directive_args(WORDPRESS, 23, "fastcgi_param", ["HTTP_PROXY", "a b"])
    assert changes(WORDPRESS, spaced)[1] == '+\t    fastcgi_param HTTP_PROXY "a b";\n'
    plain = set_directive_args(WORDPRESS, 23, "fastcgi_param", ["HTTP_PROXY", "x"])
    assert changes(WORDPRESS, plain)[1] == '+\t    fastcgi_param HTTP_PROXY "x";\n'
    assert render_arg("it's") == "it's"  # a quote inside a word is an ordinary character
    assert render_arg("'x") == '"\'x"'
    assert render_arg("#x") == '"#x"'
    assert render_arg('say "hi"') == "'say \"hi\"'"
    assert render_arg("~\\.php$") == "~\\.php$"


def test_a_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(EditError, match="list of strings"):
        set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", "127.0.0.1:9000")


@pytest.mark.parametrize(
    ("line", "name", "message"),
    [
        (20, "fastcgi_pass", "no directive 'fastcgi_pass' starts on line 20"),
        (PASS_LINE, "fastcgi_param", "no directive 'fastcgi_param' starts on line 21"),
        (60, "fastcgi_pass", "line 60"),
    ],
)
def test_missing_target_is_an_error(line: int, name: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        set_directive_args(WORDPRESS, line, name, ["x"])


def test_commented_out_directive_is_not_a_target() -> None:
    # Debian's default site only mentions fastcgi_pass in comments (line 60).
    assert find_directives(DEBIAN_DEFAULT, "fastcgi_pass") == []
    with pytest.raises(EditError):
        set_directive_args(DEBIAN_DEFAULT, 60, "fastcgi_pass", ["unix:/run/php/php8.2-fpm.sock"])


def test_two_directives_of_the_same_name_on_one_line_are_ambiguous() -> None:
    text = "location / { fastcgi_pass a:1; fastcgi_pass b:2; }\n"
    with pytest.raises(EditError, match="ambiguous"):
        set_directive_args(text, 1, "fastcgi_pass", ["c:3"])


def test_broken_config_is_refused() -> None:
    with pytest.raises(EditError, match="not terminated"):
        find_directives("server {\n  listen 80\n}\n", "listen")
    with pytest.raises(EditError, match='expecting "}"'):
        find_directives("server {\n  listen 80;\n", "listen")
    with pytest.raises(EditError, match='unexpected "}"'):
        find_directives("listen 80;\n}\n", "listen")


def test_ensure_adds_buffers_right_after_fastcgi_pass_with_its_indentation() -> None:
    after = ensure_directives_in_block(
        WORDPRESS, PASS_LINE, [("fastcgi_buffer_size", ["32k"]), ("fastcgi_buffers", ["16", "32k"])]
    )
    assert changes(WORDPRESS, after) == ["+\t\tfastcgi_buffer_size 32k;\n", "+\t\tfastcgi_buffers 16 32k;\n"]
    lines = after.splitlines()
    assert lines[PASS_LINE - 1 : PASS_LINE + 2] == [
        "\t\tfastcgi_pass  unix:/run/php/php8.1-fpm.sock;   # PHP 8.1 pool (old)",
        "\t\tfastcgi_buffer_size 32k;",
        "\t\tfastcgi_buffers 16 32k;",
    ]
    # Running it again with other sizes replaces in place instead of adding more lines.
    again = ensure_directives_in_block(
        after, PASS_LINE, [("fastcgi_buffer_size", ["64k"]), ("fastcgi_buffers", ["32", "32k"])]
    )
    assert changes(after, again) == [
        "-\t\tfastcgi_buffer_size 32k;\n",
        "-\t\tfastcgi_buffers 16 32k;\n",
        "+\t\tfastcgi_buffer_size 64k;\n",
        "+\t\tfastcgi_buffers 32 32k;\n",
    ]
    assert (
        ensure_directives_in_block(
            again, PASS_LINE, [("fastcgi_buffer_size", ["64k"]), ("fastcgi_buffers", ["32", "32k"])]
        )
        == again
    )


def test_ensure_replaces_an_existing_directive_of_the_block_only() -> None:
    after = ensure_directive_in_block(WORDPRESS, PASS_LINE, "fastcgi_read_timeout", ["60"])
    assert changes(WORDPRESS, after) == [
        "-\t\tfastcgi_read_timeout 300;\n",
        "+\t\tfastcgi_read_timeout 60;\n",
    ]
    # try_files exists in "location /" but not in the PHP block: it is added, not moved.
    added = ensure_directive_in_block(WORDPRESS, PASS_LINE, "try_files", ["$uri", "=404"])
    assert changes(WORDPRESS, added) == ["+\t\ttry_files $uri =404;\n"]


def test_ensure_after_a_block_anchor_goes_after_its_closing_brace() -> None:
    after = ensure_directive_in_block(WORDPRESS, 19, "fastcgi_buffers", ["16", "32k"])
    lines = after.splitlines()
    assert lines[23:25] == ["\t}", "\tfastcgi_buffers 16 32k;"]
    assert find_directives(after, "fastcgi_buffers") == [(25, ["16", "32k"])]


def test_ensure_on_a_one_line_block_stays_on_that_line() -> None:
    after = ensure_directive_in_block(WORDPRESS, 12, "expires", ["max"], anchor_name="access_log")
    assert changes(WORDPRESS, after)[1] == (
        "+\tlocation = /favicon.ico { log_not_found off; access_log off; expires max; }\n"
    )
    with pytest.raises(EditError, match="ambiguous"):
        ensure_directive_in_block(WORDPRESS, 12, "expires", ["max"])


def test_ensure_refuses_when_the_block_already_has_it_twice() -> None:
    text = "location / {\n    fastcgi_pass a:1;\n    add_header A 1;\n    add_header B 2;\n}\n"
    with pytest.raises(EditError, match="2 times"):
        ensure_directive_in_block(text, 2, "add_header", ["C", "3"])


def test_ensure_on_an_included_snippet_works_at_top_level() -> None:
    index_line = find_directives(SNIPPET, "fastcgi_index")[0][0]
    after = ensure_directive_in_block(SNIPPET, index_line, "fastcgi_buffers", ["16", "32k"])
    assert changes(SNIPPET, after) == ["+fastcgi_buffers 16 32k;\n"]
    assert after.splitlines()[index_line - 1 : index_line + 2] == [
        "fastcgi_index index.php;",
        "fastcgi_buffers 16 32k;",
        "include fastcgi.conf;",
    ]


def test_ensure_keeps_crlf_and_a_missing_final_newline() -> None:
    text = "location / {\r\n  fastcgi_pass a:1;\r\n}\r\n"
    assert ensure_directive_in_block(text, 2, "x", ["1"]) == "location / {\r\n  fastcgi_pass a:1;\r\n  x 1;\r\n}\r\n"
    assert ensure_directive_in_block("fastcgi_pass a:1;", 1, "x", ["1"]) == "fastcgi_pass a:1;\nx 1;"


def test_edit_on_debian_nginx_conf_parses_the_same_with_crossplane(tmp_path: Path) -> None:
    sendfile = next(line for line, _ in find_directives(DEBIAN_NGINX_CONF, "sendfile"))
    after = ensure_directive_in_block(DEBIAN_NGINX_CONF, sendfile, "fastcgi_buffers", ["16", "32k"])
    worker_line = find_directives(after, "worker_connections")[0][0]
    after = set_directive_args(after, worker_line, "worker_connections", ["1024"])
    assert changes(DEBIAN_NGINX_CONF, after) == [
        "-\tworker_connections 768;\n",
        "+\tworker_connections 1024;\n",
        "+\tfastcgi_buffers 16 32k;\n",
    ]
    before_tree, after_tree = parse_text(tmp_path, DEBIAN_NGINX_CONF), parse_text(tmp_path, after)
    http = next(d for d in after_tree if d["directive"] == "http")
    names = [d["directive"] for d in http["block"]]
    added = http["block"].pop(names.index("sendfile") + 1)
    assert (added["directive"], added["args"]) == ("fastcgi_buffers", ["16", "32k"])
    events = next(d for d in after_tree if d["directive"] == "events")
    assert events["block"][0]["args"] == ["1024"]
    events["block"][0]["args"] = ["768"]
    assert without_lines(after_tree) == without_lines(before_tree)  # nothing else moved or changed


# --- properties ------------------------------------------------------------------------------
SOCKETS = st.from_regex(r"/run/php/[a-z0-9.\-]{1,12}\.sock", fullmatch=True)
TCP = st.builds(lambda h, p: f"{h}:{p}", st.sampled_from(["127.0.0.1", "[::1]", "localhost"]), st.integers(1, 65535))
PASS_VALUES = st.one_of(SOCKETS.map(lambda s: "unix:" + s), TCP)


@settings(max_examples=60, deadline=None)
@given(PASS_VALUES)
def test_round_trip_fastcgi_pass(value: str) -> None:
    there = set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", [value])
    assert find_directives(there, "fastcgi_pass") == [(PASS_LINE, [value])]
    assert len(changes(WORDPRESS, there)) == 2
    back = set_directive_args(there, PASS_LINE, "fastcgi_pass", ["unix:/run/php/php8.1-fpm.sock"])
    assert back == WORDPRESS


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
def test_round_trip_any_value_through_a_quoted_argument(value: str) -> None:
    try:
        there = set_directive_args(WORDPRESS, 23, "fastcgi_param", ["HTTP_PROXY", value])
    except EditError:
        return  # a value no quoting can express (e.g. ending in a backslash) is refused, not mangled
    assert find_directives(there, "fastcgi_param") == [(23, ["HTTP_PROXY", value])]
    assert set_directive_args(there, 23, "fastcgi_param", ["HTTP_PROXY", ""]) == WORDPRESS


NGINXISH = st.lists(st.sampled_from([*"ab $#{};\"'\\\n\t ", "${x}", "\\\n"]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(NGINXISH)
def test_offset_lexer_matches_crossplane_and_offsets_point_at_the_token(text: str) -> None:
    ours = _lex(text)
    theirs = list(_lex_file_object(io.StringIO(text)))
    assert [(t.value, t.line, t.quoted) for t in ours] == theirs
    for tok in ours:
        raw = text[tok.start : tok.end]
        if tok.quoted:
            assert raw[0] == raw[-1] and raw[0] in "\"'"
        else:
            assert raw == tok.value


# --- the real nginx --------------------------------------------------------------------------
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def nginx_test(tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``site`` inside a throwaway prefix: no file outside tmp_path is opened for writing."""
    assert NGINX is not None
    (tmp_path / "snippets").mkdir(exist_ok=True)
    (tmp_path / "snippets" / "fastcgi-php.conf").write_text(SNIPPET)
    (tmp_path / "fastcgi.conf").write_text((CONFIGS / "debian12" / "nginx-fastcgi.conf").read_text())
    (tmp_path / "site.conf").write_text(site)
    temp_paths = "\n".join(f"    {kind}_temp_path {tmp_path}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n    client_body_temp_path {tmp_path}/body;\n{temp_paths}\n"
        f"    include {tmp_path}/site.conf;\n}}\n"
    )
    argv = [
        NGINX,
        "-t",
        "-p",
        str(tmp_path),
        "-c",
        str(tmp_path / "nginx.conf"),
        "-e",
        str(tmp_path / "error.log"),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx binary not installed")


@needs_nginx
def test_real_nginx_rejects_a_broken_site_so_the_check_means_something(tmp_path: Path) -> None:
    result = nginx_test(tmp_path, WORDPRESS.replace("fastcgi_read_timeout 300;", "fastcgi_read_timeout 300"))
    assert result.returncode != 0


@needs_nginx
def test_real_nginx_accepts_the_edited_wordpress_site(tmp_path: Path) -> None:
    after = set_directive_args(WORDPRESS, PASS_LINE, "fastcgi_pass", ["127.0.0.1:9000"])
    after = ensure_directives_in_block(
        after, PASS_LINE, [("fastcgi_buffer_size", ["32k"]), ("fastcgi_buffers", ["16", "32k"])]
    )
    after = set_directive_args(after, 25, "fastcgi_param", ["HTTP_PROXY", "a b;c"])
    result = nginx_test(tmp_path, after)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
def test_real_nginx_accepts_an_edited_debian_default_site(tmp_path: Path) -> None:
    root_line = find_directives(DEBIAN_DEFAULT, "root")[0][0]
    after = ensure_directive_in_block(DEBIAN_DEFAULT, root_line, "fastcgi_buffers", ["16", "32k"])
    after = set_directive_args(after, root_line, "root", ["/var/www/wordpress"])
    assert len(changes(DEBIAN_DEFAULT, after)) == 3
    result = nginx_test(tmp_path, after)
    assert result.returncode == 0, result.stderr
