"""invoke entry point for a checkout: `invoke fix-502 --host web1`, `invoke diagnose`,
`invoke rollback`, `invoke playbook.check` ... — the same collection as the `fix502` command —
plus the lab (`invoke lab.up`), which lives with the tests and is not part of the product."""

from remediations.cli import build_namespace
from tests.lab import lab_tasks

ns = build_namespace()
ns.add_collection(lab_tasks.ns)

__all__ = ["ns"]
