"""One error family; the message of each is exactly what the user reads."""
from __future__ import annotations

from dataclasses import dataclass


class WaterError(Exception):
    """An error the CLI prints as is (no traceback) and exits non-zero on."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a spec, located in its file."""

    file: str
    line: int
    col: int
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: "
        field = f"{self.field}: " if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return _one_line(f"{where}{field}{self.message}{hint}")


_BREAKS = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x85: "\\x85", 0x2028: "\\u2028",
           0x2029: "\\u2029"}


def _one_line(text: str) -> str:
    """A problem is one line: breaks inside the user's own text (a name ending in a newline) are shown escaped."""
    return text.translate(_BREAKS)


class SpecError(WaterError):
    """The spec is invalid; carries every problem found, sorted by position."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
