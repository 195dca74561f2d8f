"""Where things stood in a spec: line and column marks, and the plain containers that carry them. No YAML
parser here, so the fast path (valid specs) never loads one."""
from __future__ import annotations

Mark = tuple[int, int]  # (line, col), both 1-based


class MarkedMap(dict):
    """A mapping with the marks of itself, its keys and its values."""

    __slots__ = ("mark", "key_marks", "value_marks")

    def __init__(self, mark: Mark = (1, 1)) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks: dict = {}
        self.value_marks: dict = {}

    @classmethod
    def empty(cls, mark: Mark) -> MarkedMap:
        """A new empty one, made without the Python-level __init__ (parsing makes one per mapping field)."""
        out = cls.__new__(cls)
        out.mark, out.key_marks, out.value_marks = mark, {}, {}
        return out


class MarkedList(list):
    """A sequence with the marks of itself and of each item."""

    __slots__ = ("mark", "item_marks")

    def __init__(self, mark: Mark = (1, 1)) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks: list = []

    @classmethod
    def of(cls, items: list, mark: Mark, item_marks: list) -> MarkedList:
        """A filled one, made without the Python-level __init__ (parsing makes one per list in the spec)."""
        out = cls.__new__(cls)
        out.extend(items)
        out.mark, out.item_marks = mark, item_marks
        return out


def text_mark(mark: Mark, text: str, offset: int) -> Mark:
    """Where offset `offset` of a YAML string stood; later lines of a block keep its indentation."""
    line = text.count("\n", 0, offset)
    if not line:
        return (mark[0], mark[1] + offset)
    return (mark[0] + line, mark[1] + offset - text.rindex("\n", 0, offset) - 1)


class FileMark(tuple):
    """A mark (line, column) in another file than the spec's, such as a SQL file the spec names."""

    file: str


def in_file(file: str, mark: Mark) -> FileMark:
    found = FileMark(mark)
    found.file = file
    return found


def file_mark(text: str, offset: int) -> Mark:
    line = text.count("\n", 0, offset)
    return (line + 1, offset - (text.rindex("\n", 0, offset) if line else -1))
