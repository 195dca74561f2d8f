"""What the user sees while a local run goes: one line per event (logs, pipes), or on a
terminal a table of every step (waiting, running with its elapsed time, done, failed)
redrawn in place."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from water import sizing

REDRAW_SECONDS = 0.2


def name_width(names: Any) -> int:
    """The step column's width: 16, or wider than the longest name, so every column lines up."""
    return max([16, *(len(n) + 1 for n in names)])


def event_line(result: Any, width: int = 16) -> str:
    """One event as a line: a step started, finished, failed, was skipped or reused."""
    name = f"{result.name:<{width}}"
    if result.status == "running":
        return f"{name} running"
    if result.status == "reused":
        return f"{name} reused from the latest run"
    if result.status == "skipped":
        return f"{name} skipped ({result.error})"
    if result.status in ("failed", "interrupted"):
        return f"{name} {result.status} after {result.seconds:.1f}s: {result.error}"
    lines = [result.sizing] if result.sizing else []
    lines.append(f"{name} done in {result.seconds:.1f}s{_detail(result)}")
    return "\n".join(lines + [f"{result.name}: {note}" for note in result.notes])


def _detail(result: Any) -> str:
    size = result.outputs.get("bytes")
    text = f", {sizing.human_bytes(int(size))}" if size else ""
    return text + (f", {result.shards} shards" if result.shards > 1 else "")


class Progress:
    """The runner's `report`: takes each StepResult as it happens."""

    def __init__(self, steps: list, stream: Any, live: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.live, self.clock = stream, live, clock
        self.order = list(steps)
        self.width = name_width(self.order)
        self.state: dict = {}
        self.started: dict = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._redraw_loop, daemon=True) if live else None
        if self.thread:
            self.thread.start()

    def __call__(self, result: Any) -> None:
        with self.lock:
            if result.status == "running":
                self.started[result.name] = self.clock()
            self.state[result.name] = result
            if not self.live:
                self.stream.write(event_line(result, self.width) + "\n")
                self.stream.flush()

    def table(self) -> list:
        """One row per step: its state, its time (elapsed while running), what it produced or why it failed."""
        rows = []
        for name in self.order:
            result = self.state.get(name)
            status = result.status if result else "waiting"
            if status == "running":
                seconds = f"{self.clock() - self.started[name]:.1f}s"
            else:
                seconds = f"{result.seconds:.1f}s" if result and status in ("done", "failed") else ""
            detail = ""
            if result and status == "done":
                detail = _detail(result).lstrip(", ")
            elif result and status in ("failed", "skipped"):
                detail = result.error
            rows.append(f"{name:<{self.width}} {status:<8} {seconds:>7}  {detail}".rstrip())
        return rows

    def _draw(self) -> None:
        rows = self.table()
        text = f"\x1b[{self.drawn}F" if self.drawn else ""  # back to the first row of the last drawing
        text += "".join(f"\x1b[2K{row}\n" for row in rows)
        self.stream.write(text)
        self.stream.flush()
        self.drawn = len(rows)

    def _redraw_loop(self) -> None:
        while not self.stop.wait(REDRAW_SECONDS):
            with self.lock:
                self._draw()

    def close(self) -> None:
        if self.thread:
            self.stop.set()
            self.thread.join()
            with self.lock:
                self._draw()
