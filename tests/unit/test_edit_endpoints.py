"""FPM ``listen`` values map to the address nginx/Apache must dial."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediations.edit import (
    EditError,
    Endpoint,
    endpoint_from_fastcgi_pass,
    endpoint_from_listen,
    nginx_fastcgi_pass,
)


@pytest.mark.parametrize(
    ("listen", "expected"),
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
def test_nginx_fastcgi_pass_from_listen(listen: str, expected: str) -> None:
    assert nginx_fastcgi_pass(listen) == expected


@pytest.mark.parametrize(
    "listen", ["", "php.sock", "::1:9000", "[::1]9000", "127.0.0.1:0", "127.0.0.1:70000", "1.2.3.4:x"]
)
def test_unusable_listen_values_are_errors(listen: str) -> None:
    with pytest.raises(EditError):
        endpoint_from_listen(listen)


def test_endpoint_kinds_match_the_facts_model() -> None:
    assert endpoint_from_listen("/run/php/a.sock") == Endpoint("unix", "/run/php/a.sock")
    assert endpoint_from_listen("9000") == Endpoint("tcp", "127.0.0.1:9000")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("unix:/run/php/php8.2-fpm.sock", Endpoint("unix", "/run/php/php8.2-fpm.sock")),
        ("127.0.0.1:9000", Endpoint("tcp", "127.0.0.1:9000")),
        ("[::1]:9000", Endpoint("tcp", "[::1]:9000")),
        ("php_backend", None),  # an upstream name
        ("$upstream", None),
        ("unix:relative.sock", None),
    ],
)
def test_endpoint_from_fastcgi_pass(arg: str, expected: Endpoint | None) -> None:
    assert endpoint_from_fastcgi_pass(arg) == expected


@given(
    st.one_of(
        st.from_regex(r"/run/php/[a-z0-9.\-]{1,12}\.sock", fullmatch=True),
        st.builds(
            lambda h, p: f"{h}:{p}",
            st.sampled_from(["127.0.0.1", "[::1]", "10.0.0.5"]),
            st.integers(1, 65535),
        ),
    )
)
def test_listen_to_fastcgi_pass_and_back(listen: str) -> None:
    endpoint = endpoint_from_listen(listen)
    assert endpoint_from_fastcgi_pass(nginx_fastcgi_pass(listen)) == endpoint
