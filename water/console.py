"""How an action talks to the person running it, passed in as one object: lines of progress, diffs, and a yes/no
before it writes. The CLI's prints in colour and asks on a terminal; a library caller's or a test's may do
neither."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Console:
    echo: Callable[[str], object] = print  # one line of progress
    show_diff: Callable[[str], object] = print  # a unified diff
    confirm: Callable[[int, str], bool] | None = None  # (changes, namespace) → go on?; None: never asks


QUIET = Console(echo=lambda line: None, show_diff=lambda diff: None)
