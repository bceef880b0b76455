"""What a person watching a fleet run sees while it runs.

On a terminal: one live line per running host (its current step) under a bar over the whole
fleet, redrawn a few times a second by rich's own thread so host threads never wait on the
screen.  Elsewhere (CI, pipes, log files): plain, append-only lines, because a redrawn screen in
a log is unreadable.  Everything shown passes through :func:`report.terminal_safe` first and
reaches rich as :class:`rich.text.Text`, never as markup.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from remediations.report import Console, terminal_safe

if TYPE_CHECKING:
    from remediations.results import HostResult

_STYLE = {
    "healthy": "green",
    "fixed": "green",
    "planned": "cyan",
    "failed": "red",
    "escalated": "magenta",
    "unreachable": "red",
    "skipped": "yellow",
}


class FleetProgress:
    """Feed it ``started``/``event``/``done`` from any thread; use it as a context manager."""

    def __init__(self, console: Console, total: int, *, live: bool | None = None, refresh: float = 4.0) -> None:
        self.console = console
        self.total = total
        self.live = console.rich if live is None else live
        self.refresh = refresh
        self.finished = 0
        self.running: dict[str, tuple[float, str]] = {}  # host -> (started at, current step)
        self._lock = threading.Lock()
        self._live: Any = None
        self._bar: Any = None
        self._task: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FleetProgress:
        if self.live:
            from rich.console import Console as RichConsole
            from rich.live import Live
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            rc = RichConsole(file=self.console.stream, highlight=False)
            self._bar = Progress(
                TextColumn("fleet"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=rc
            )
            self._task = self._bar.add_task("fleet", total=self.total)
            self._live = Live(
                get_renderable=self._render,
                console=rc,
                refresh_per_second=self.refresh,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- feeds ---------------------------------------------------------------------------------
    def host_started(self, host: str) -> None:
        with self._lock:
            self.running[host] = (time.monotonic(), "connecting")
        if not self.live:
            self.console.event(host, "started")

    def host_event(self, host: str, message: str) -> None:
        with self._lock:
            began = self.running.get(host, (time.monotonic(), ""))[0]
            self.running[host] = (began, message)
        if not self.live:
            self.console.event(host, message)

    def host_done(self, r: HostResult) -> None:
        with self._lock:
            self.running.pop(r.name, None)
            self.finished += 1
            n = self.finished
        text = f"[{r.name}] {r.status}" + (f": {r.error}" if r.error else "") + f"  ({n}/{self.total})"
        if self._live is not None:
            from rich.text import Text

            self._bar.update(self._task, completed=n)
            self._live.console.print(Text(terminal_safe(text, one_line=True), style=_STYLE.get(r.status, "")))
        else:
            self.console.line(text)

    def say(self, text: str) -> None:
        """A message that must not be lost in the redraw (interrupts, stop reasons)."""
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(terminal_safe(text)))
        else:
            self.console.line(text)

    # -- drawing (rich's refresh thread) -----------------------------------------------------
    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        with self._lock:
            rows = sorted(self.running.items())
        # Only what fits: Live crops to the terminal anyway, and laying out all N rows 4× a second
        # cost 35 ms a frame at 200 running hosts (a seventh of a core for the whole run).
        room = max(2, (self._live.console.height if self._live is not None else 25) - 2)
        more = len(rows) - (room - 1) if len(rows) > room else 0
        shown = rows[: room - 1] if more else rows
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right", style="dim", no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis")
        for host, (began, step) in shown:
            table.add_row(
                Text(terminal_safe(host, one_line=True)),
                f"{now - began:4.0f}s",
                Text(terminal_safe(step, one_line=True)),
            )
        if more:
            table.add_row(Text(f"… {more} more running"), "", "")
        return Group(self._bar, table) if rows else self._bar
