"""Surgical editors for nginx, PHP-FPM ini and Apache config text.

Every editor here is a pure function from file text to file text. A fix reads a file, calls one
of these and hands ``before``/``after`` to :class:`remediations.plan.WriteFile`; the diff the
user sees in ``--dry-run`` is then exactly the line(s) we meant to touch, and comments, layout
and the admin's other changes survive. When we cannot be sure which line is meant we refuse
(:class:`EditError`) instead of guessing: a wrong edit on a production web server is worse than
an escalation.

Where a web server connects (``fastcgi_pass``, ``SetHandler``, FPM's ``listen``) is read by the one
endpoint model in :mod:`remediations.endpoint`.
"""

from __future__ import annotations

__all__ = ["EditError"]


class EditError(ValueError):
    """The edit cannot be made safely: the target is missing, ambiguous, or the text does not parse.

    A ``ValueError`` (not a :class:`~remediations.errors.Fix502Error`) because it is a programming
    or planning problem of the calling fix, which decides whether to escalate.
    """
