"""The one endpoint model: FPM ``listen``, nginx ``fastcgi_pass`` and Apache handler URLs read the
same way, and ``accepts`` is the only answer to "does this pool take what the web server dials?"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediations.endpoint import Endpoint, EndpointError


@pytest.mark.parametrize(
    ("listen", "nginx"),
    [
        ("/run/php/php8.2-fpm.sock", "unix:/run/php/php8.2-fpm.sock"),
        ("127.0.0.1:9000", "127.0.0.1:9000"),
        ("9000", "127.0.0.1:9000"),
        ("[::1]:9000", "[::1]:9000"),
        ("[::]:9000", "[::1]:9000"),
        ("0.0.0.0:9000", "127.0.0.1:9000"),
        ("localhost:9001", "localhost:9001"),
        ('"/run/php/quoted.sock"', "unix:/run/php/quoted.sock"),
        (" 9000 ", "127.0.0.1:9000"),
    ],
)
def test_listen_gives_the_address_nginx_must_dial(listen: str, nginx: str) -> None:
    assert Endpoint.from_listen(listen).nginx == nginx


@pytest.mark.parametrize(
    "listen", ["", "php.sock", "::1:9000", "[::1]9000", "127.0.0.1:0", "127.0.0.1:70000", "1.2.3.4:x"]
)
def test_unusable_listen_values_are_errors(listen: str) -> None:
    with pytest.raises(EndpointError):
        Endpoint.from_listen(listen)


def test_a_relative_listen_is_relative_to_the_pool_prefix() -> None:
    # The official php-fpm image's zz-docker.conf style: FPM resolves it against `prefix`.
    assert Endpoint.from_listen("php82-fpm.sock", prefix="/var/run/php") == Endpoint(
        "unix", "/var/run/php/php82-fpm.sock"
    )


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("unix:/run/php/php8.2-fpm.sock", Endpoint("unix", "/run/php/php8.2-fpm.sock")),
        ("127.0.0.1:9000", Endpoint("tcp", "127.0.0.1:9000")),
        ("[::1]:9000", Endpoint("tcp", "[::1]:9000")),
        ("php_backend", None),  # an upstream name: resolved through its upstream block
        ("$upstream", None),  # set through map/set: cannot be read from the config alone
        ("unix:relative.sock", None),
    ],
)
def test_fastcgi_pass(arg: str, expected: Endpoint | None) -> None:
    assert Endpoint.from_fastcgi_pass(arg) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost", Endpoint("unix", "/run/php/php8.2-fpm.sock")),
        ("proxy:fcgi://127.0.0.1:9000", Endpoint("tcp", "127.0.0.1:9000")),
        # mod_proxy_fcgi's own default port: the facts side used to read this as "127.0.0.1"
        ("fcgi://127.0.0.1/var/www/html/$1", Endpoint("tcp", "127.0.0.1:8000")),
        ("http://backend/", None),
    ],
)
def test_apache_handler(raw: str, expected: Endpoint | None) -> None:
    assert Endpoint.from_apache_handler(raw) == expected


@pytest.mark.parametrize(
    ("listen", "client", "ok"),
    [
        ("9000", Endpoint("tcp", "127.0.0.1:9000"), True),  # every address
        ("127.0.0.1:9000", Endpoint("tcp", "localhost:9000"), True),
        ("127.0.0.1:9000", Endpoint("tcp", "127.0.0.1:9001"), False),
        ("10.0.0.5:9000", Endpoint("tcp", "127.0.0.1:9000"), False),
        ("/run/php/a.sock", Endpoint("unix", "/var/run/php/a.sock"), True),  # /var/run -> /run
        ("/run/php/a.sock", Endpoint("unix", "/run/php/b.sock"), False),
        ("/run/php/a.sock", Endpoint("tcp", "127.0.0.1:9000"), False),
    ],
)
def test_accepts(listen: str, client: Endpoint, ok: bool) -> None:
    assert Endpoint.from_listen(listen).accepts(client) is ok


@given(
    st.one_of(
        st.from_regex(r"/run/php/[a-z0-9.\-]{1,12}\.sock", fullmatch=True),
        st.builds(
            lambda h, p: f"{h}:{p}", st.sampled_from(["127.0.0.1", "[::1]", "10.0.0.5", "*"]), st.integers(1, 65535)
        ),
    )
)
def test_what_nginx_is_told_to_dial_reaches_the_pool(listen: str) -> None:
    pool = Endpoint.from_listen(listen)
    dialled = Endpoint.from_fastcgi_pass(pool.nginx)
    assert dialled is not None and pool.accepts(dialled)


@pytest.mark.parametrize(
    ("value", "by_name"),
    [
        ("wordpress:9000", True),
        ("example.com_php:9000", True),
        ("php-fpm.internal:9000", True),
        ("127.0.0.1:9000", False),
        ("localhost:9000", False),
        ("[::1]:9000", False),
        ("10.0.0.5:9000", False),
        ("unix:/run/php/php8.2-fpm.sock", False),
    ],
)
def test_a_target_dialled_by_name_is_known_as_such(value: str, by_name: bool) -> None:
    assert Endpoint.from_fastcgi_pass(value).by_name is by_name
