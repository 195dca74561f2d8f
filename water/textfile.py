"""Reading the user's text files (the spec, the SQL and scripts it names): UTF-8, newlines as text mode reads
them, and a byte that is not UTF-8 located by line and column rather than raised as a decode error."""
from __future__ import annotations

from water.spec.marked import file_mark


class NotUtf8(ValueError):
    def __init__(self, line: int, col: int, byte: int) -> None:
        self.line, self.col = line, col
        self.reason = f"not UTF-8 text (byte 0x{byte:02x}): save it as UTF-8"
        super().__init__(f"line {line}, column {col}: {self.reason}")


def read_text(path: str) -> str:
    """The file's text; raises OSError, or NotUtf8 at the first byte that is not UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8")  # what is valid: columns count its characters, as all do
        line, col = file_mark(before, len(before))
        raise NotUtf8(line, col, data[exc.start]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
