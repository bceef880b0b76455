"""Secrets never leave through a report, an escalation bundle or the console.

The wp-config.php used here is built exactly as a lab host's is (tests/lab/lab.py ``wp_config``):
Debian's real /usr/share/wordpress/wp-config-sample.php with fresh random keys and salts.  The
private key is a real one made by ssh-keygen."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from remediations.causes import Diagnosis
from remediations.inventory import Host
from remediations.report import Console, bundle_dict, bundle_markdown, redact, report_dict, write_bundle
from remediations.results import FixResult, HostResult, Status
from tests.lab.lab import wp_config

SAMPLE = Path("/usr/share/wordpress/wp-config-sample.php")
NAMES = (
    "DB_PASSWORD",
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)


@pytest.fixture(scope="module")
def config() -> tuple[str, list[str]]:
    if not SAMPLE.exists():
        pytest.skip("needs Debian's wordpress package for a real wp-config-sample.php")
    text = wp_config("wp_web61", "Pw-9f3kQz_7LxA2vR")
    values = [m.group(2) for m in re.finditer(r"define\(\s*'(\w+)',\s*'([^']*)'\s*\)", text) if m.group(1) in NAMES]
    assert len(values) == len(NAMES)
    return text, values


@pytest.fixture(scope="module")
def private_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("key") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def key_body(key: str) -> list[str]:
    return [line for line in key.splitlines() if line and "-----" not in line]


def leaks(text: str, values: list[str], key: str) -> list[str]:
    return [v for v in values if v in text] + [line for line in key_body(key) if line in text]


def hostile_result(conf: str, key: str, values: list[str]) -> HostResult:
    """A host result whose every free-text field carries secrets, as evidence can."""
    lines = [
        *conf.splitlines(),  # a whole wp-config.php quoted as evidence
        f'request: "GET /wp-login.php?log=admin&pwd={values[0]} HTTP/1.1"',
        f"PHP message: DB_PASSWORD={values[0]}",
        f'password: "{values[0]}"',
        key,  # a whole private key
        key[: len(key) // 2],  # ...and one cut short by a line-length limit
    ]
    r = HostResult("web61", status=Status.ESCALATED, causes=["worker-crash"])
    r.evidence = [{"cause": "worker-crash", "source": "/var/log/nginx/error.log", "line": ln} for ln in lines]
    r.actions = [FixResult("bisect-plugins", error=lines[-3], note=conf, diff=conf, plan=key)]
    r.error = " ".join(lines[:3])
    r.diagnosis = Diagnosis(causes=[])
    return r


def test_redact_wp_config(config: tuple[str, list[str]]) -> None:
    text, values = config
    out = redact(text)
    assert not [v for v in values if v in out]
    assert out.count("[redacted]") >= len(NAMES)
    assert "define( 'DB_NAME', 'wp_web61' )" in out  # not secret: stays readable for the on-call person


@pytest.mark.parametrize(
    "form",
    [
        "define( 'DB_PASSWORD', '{v}' );",
        'define("DB_PASSWORD","{v}");',
        "DB_PASSWORD={v}",
        "'DB_PASSWORD' => '{v}',",
        "password: {v}",
        'Password = "{v}"',
        "GET /wp-login.php?log=admin&pwd={v} HTTP/1.1",
        "mysql -u wp --password={v} wp_db",
    ],
)
def test_redact_password_forms(form: str) -> None:
    v = "Pw-9f3kQz_7LxA2vR"
    assert v not in redact(form.format(v=v)), form


def test_redact_private_keys_whole_and_cut(private_key: str) -> None:
    for text in (
        private_key,
        "before " + private_key + " after",
        private_key[: len(private_key) // 2],
        private_key.replace("\n", " "),
    ):
        out = redact(text)
        assert not [line for line in key_body(private_key) if line in out], out


def test_report_bundle_and_console_carry_no_secret(
    tmp_path: Path, config: tuple[str, list[str]], private_key: str
) -> None:
    conf, values = config
    r = hostile_result(conf, private_key, values)
    report = json.dumps(report_dict("run-1", "fix-502", False, {"web61": r}))
    assert not leaks(report, values, private_key)
    host = Host(name="web61", address="127.0.0.71")
    bundle = bundle_dict("run-1", host, r)
    assert not leaks(json.dumps(bundle), values, private_key)
    assert not leaks(bundle_markdown(bundle), values, private_key)
    md = write_bundle(str(tmp_path), "run-1", host, r)
    for p in tmp_path.iterdir():
        assert not leaks(p.read_text(), values, private_key), p
    assert Path(md).exists()
    stream = io.StringIO()
    console = Console(stream, rich_ok=False)
    for e in r.evidence:
        console.event("web61", e["line"])
    console.recap({"web61": r})
    console.table("t", ["a"], [[conf]])
    assert "[redacted" in stream.getvalue()
    assert not leaks(stream.getvalue(), values, private_key)
