"""Secrets in the forms issue 12 lists, placed in a real host's own config files, through a real
dry run and its JSON report: none of them may appear, whatever the diff's context lines carry."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import fix502, host, inventory
from tests.lab import faults

PW = "Zq8-lab-dbpass-Kw3"
SPACED = "zebra9 quokka7 lynx3 ocelot5"
REDIS = "rEd1s-lab-Tok3n-xx"


def test_pool_env_fastcgi_param_and_url_passwords_stay_out_of_a_dry_run(tmp_path: Path) -> None:
    h = host("web27")
    site = "/etc/nginx/sites-available/wordpress"
    text = h.read(site).replace(
        "\t\tfastcgi_pass unix:",
        f'\t\tfastcgi_param DB_PASSWORD "{SPACED}";\n'
        f"\t\tfastcgi_param WP_REDIS_URL redis://:{REDIS}@127.0.0.1:6379/0;\n"
        "\t\tfastcgi_pass unix:",
        1,
    )
    h.write(site, text)  # right above the line a realign changes: inside the diff's context
    faults.edit_pool(h, {"env[DB_PASSWORD]": PW})
    faults.restart_fpm(h)
    faults.apply(h, "old-php-socket")
    out = tmp_path / "r.json"
    res = fix502("fix-502", "--host", h.name, "--inventory", inventory(), "--dry-run", "--report-json", str(out))
    report = out.read_text()
    r = json.loads(report)["hosts"][h.name]
    assert res.returncode == 0 and r["status"] == "planned", res.stdout[-2000:]
    plan = next(a for a in r["actions"] if a["id"] == "realign-fastcgi-pass")
    assert "fastcgi_param DB_PASSWORD" in plan["diff"]  # the context line is there, its value is not
    for secret in (PW, SPACED, REDIS):
        for word in [secret, *(w for w in secret.split() if len(w) > 5)]:
            assert word not in res.stdout + res.stderr, f"{word!r} reached the console"
            assert word not in report, f"{word!r} reached the report"
