"""Several edits of one file: a later anchor is found where the earlier edits moved it."""

from __future__ import annotations

from remediations.plan import Edits


def test_edits_follow_an_anchor_below_lines_added_above_it() -> None:
    read = "a\nfastcgi_pass x;\nb\nfastcgi_pass y;\n"
    edits = Edits({"/f": read})
    edits.set("/f", "a\nfastcgi_pass x;\n+1\n+2\nb\nfastcgi_pass y;\n", "first location")
    assert edits.line("/f", 2) == 2 and edits.line("/f", 4) == 6
    edits.set("/f", "a\nfastcgi_pass z;\n+1\n+2\nb\nfastcgi_pass y;\n", "the anchor itself changed")
    assert edits.line("/f", 2) is None
