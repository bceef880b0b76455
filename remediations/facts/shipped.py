"""The shell scripts fix502 sends to hosts, as they are sent.

Both evidence scripts (root's ``evidence.sh``, the account's ``account.sh``) read WordPress's
options with the same PHP, kept in one file (``wp_data.php``) and put in their place here: two
copies had drifted apart (only one stripped ``<style>``/``<script>`` text from an error page).
"""

from __future__ import annotations

import shlex
from importlib import resources

WP_DATA_PHP = "wp_data.php"
PLACEHOLDER = "@WP_DATA_PHP@"


def script_text(name: str) -> str:
    """The script ``name`` with the placeholder replaced by the PHP code, quoted for the shell."""
    here = resources.files("remediations.facts")
    php = here.joinpath(WP_DATA_PHP).read_text(encoding="utf-8").rstrip("\n")
    return here.joinpath(name).read_text(encoding="utf-8").replace(PLACEHOLDER, shlex.quote(php))
