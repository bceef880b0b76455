"""invoke entry point: `invoke fix-502 --host web1`, `invoke diagnose`, `invoke rollback`,
`invoke playbook.check`, `invoke lab.up` ...  The same collection backs the `fix502` command."""

from remediations.cli import ns

__all__ = ["ns"]
