"""What a fix wants done, as data.

Fixes only describe changes; the runner is the only code that applies them. Keeping a plan as
plain values is what makes ``--dry-run`` exact (we print the very objects we would apply) and
what lets the journal record each change before it is made.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

ServiceAction = Literal["start", "stop", "restart", "reload", "enable"]


@dataclass(frozen=True)
class WriteFile:
    """Replace a file's content. ``before`` is what the fix read; the runner refuses to write
    if the file on the host no longer has exactly that content (someone changed it meanwhile)."""

    path: str
    before: str
    after: str
    reason: str

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a{self.path}",
                tofile=f"b{self.path}",
            )
        )

    def describe(self) -> str:
        return f"edit {self.path}: {self.reason}"


@dataclass(frozen=True)
class Rename:
    src: str
    dst: str
    reason: str

    def describe(self) -> str:
        return f"rename {self.src} -> {self.dst}: {self.reason}"


@dataclass(frozen=True)
class MakeDir:
    """Create a directory, copying owner and mode from ``like`` (an existing path)."""

    path: str
    like: str
    reason: str

    def describe(self) -> str:
        return f"mkdir {self.path} (owner/mode as {self.like}): {self.reason}"


@dataclass(frozen=True)
class CreateFile:
    """Create a file that must not exist yet (a temporary must-use plugin), owner as the directory
    it goes in, never following a link; the directory is made like ``like`` when it is missing.
    Undo removes the file (and the directory when this op made it).  ``secrets`` are shown as
    ``<secret>`` in every diff: the content may embed a per-run key."""

    path: str
    content: str
    like: str
    mode: str
    reason: str
    secrets: tuple[str, ...] = ()

    def diff(self) -> str:
        shown = self.content
        for secret in self.secrets:
            shown = shown.replace(secret, "<secret>")
        return "".join(
            difflib.unified_diff([], shown.splitlines(keepends=True), fromfile="/dev/null", tofile=f"b{self.path}")
        )

    def describe(self) -> str:
        return f"create {self.path} (mode {self.mode}, owner as its directory): {self.reason}"


@dataclass(frozen=True)
class DeleteFile:
    """Remove a file a :class:`CreateFile` of this run made (its undo would remove it anyway)."""

    path: str
    reason: str

    def describe(self) -> str:
        return f"delete {self.path}: {self.reason}"


@dataclass(frozen=True)
class RemoveStale:
    """Remove a leftover socket or pid file of a dead process. Backed up when it is a regular file."""

    path: str
    reason: str

    def describe(self) -> str:
        return f"remove {self.path}: {self.reason}"


@dataclass(frozen=True)
class Service:
    name: str
    action: ServiceAction
    reason: str

    def describe(self) -> str:
        return f"service {self.name} {self.action}: {self.reason}"


@dataclass(frozen=True)
class ConfigTest:
    """Run before reloading: if it fails, every file edit of this plan is reverted and nothing reloads."""

    argv: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        return f"test {' '.join(self.argv)}: {self.reason}"


@dataclass(frozen=True)
class Command:
    """A command with a known inverse (e.g. ``a2dismod php8.2`` / ``a2enmod php8.2``)."""

    argv: tuple[str, ...]
    undo: tuple[str, ...] | None
    reason: str

    def describe(self) -> str:
        return f"run {' '.join(self.argv)}: {self.reason}"


class Edits:
    """Several edits of the files a fix read, collected into one write per file.

    A fix that edits the same file twice (two PHP locations, three pool keys) must anchor the
    second edit on the text after the first: :meth:`text` gives that text, :meth:`set` records it.
    """

    def __init__(self, files: dict[str, str]) -> None:
        self._original = files
        self._texts: dict[str, str] = {}
        self._reasons: dict[str, list[str]] = {}

    def text(self, path: str) -> str | None:
        """The file as the edits so far left it; None when the host did not let us read it."""
        return self._texts.get(path, self._original.get(path))

    def line(self, path: str, line: int, read: str | None = None) -> int | None:
        """Where line ``line`` of the file as the facts read it (``read``; default: as this plan
        started) is now, after the edits so far: lines added above it (another PHP location in
        the same file, the ladder's previous step) move it down.  None when that line itself was
        changed — an anchor that is gone must not be guessed."""
        now, then = self.text(path), read if read is not None else self._original.get(path)
        if now is None or then is None or now == then:
            return line
        ops = difflib.SequenceMatcher(None, then.split("\n"), now.split("\n"), autojunk=False).get_opcodes()
        for tag, i1, i2, j1, _ in ops:
            if tag == "equal" and i1 <= line - 1 < i2:
                return j1 + (line - 1 - i1) + 1
        return None

    def set(self, path: str, text: str, reason: str) -> None:
        self._texts[path] = text
        self._reasons.setdefault(path, []).append(reason)

    def writes(self) -> list[WriteFile]:
        return [
            WriteFile(path, self._original[path], text, "; ".join(dict.fromkeys(self._reasons[path])))
            for path, text in self._texts.items()
            if text != self._original[path]
        ]


Op = WriteFile | CreateFile | DeleteFile | Rename | MakeDir | RemoveStale | Service | ConfigTest | Command


@dataclass
class Plan:
    """What a fix wants done.  Three shapes: ops to apply; nothing to do, with the reason
    (:meth:`noop`: it reaches the report); or a refusal that needs a person (:meth:`refuse`:
    the run escalates with that reason)."""

    fix_id: str
    summary: str
    ops: list[Op] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. the pm.max_children arithmetic
    escalate: str | None = None  # set when the fix knows it cannot help; the runner escalates
    may_change: bool = False  # later steps depend on probe results (dry-run says so)

    @classmethod
    def noop(cls, fix_id: str, reason: str, notes: list[str] | None = None) -> Plan:
        return cls(fix_id, reason, notes=list(notes or []))

    @classmethod
    def refuse(cls, fix_id: str, summary: str, why: str, notes: list[str] | None = None) -> Plan:
        return cls(fix_id, summary, notes=list(notes or []), escalate=why)

    @classmethod
    def edits(
        cls,
        fix_id: str,
        summary: str,
        writes: list[WriteFile],
        test: ConfigTest,
        then: Service,
        *,
        noop: str,
        notes: list[str] | None = None,
    ) -> Plan:
        """The tail most fixes share: changed files, the config test, then the reload/restart —
        or nothing at all when no file changes."""
        changed = [w for w in writes if w.after != w.before]
        if not changed:
            return cls.noop(fix_id, noop, notes)
        return cls(fix_id, summary, [*changed, test, then], notes=list(notes or []))

    @property
    def empty(self) -> bool:
        return not self.ops

    def diffs(self) -> str:
        return "".join(op.diff() for op in self.ops if isinstance(op, WriteFile | CreateFile))

    def render(self) -> str:
        lines = [f"{self.fix_id}: {self.summary}"]
        lines += [f"  # {n}" for n in self.notes]
        for op in self.ops:
            lines.append(f"  - {op.describe()}")
            if isinstance(op, WriteFile | CreateFile):
                lines += ["    " + d for d in op.diff().splitlines()]
        if self.may_change:
            lines.append("  … may change: further steps depend on probe results")
        if self.escalate:
            lines.append(f"  ! escalate: {self.escalate}")
        return "\n".join(lines)
