"""`when:` conditions: comparisons (`== != < <= > >=`) of numbers — literals and the numbers steps produce
(`{{steps.NAME.metrics.KEY}}`, `.bytes`) — joined by `and`, `or`, `not` and parentheses. Parsed once into a
tree; evaluated locally with the run's values, and compiled to Argo's `when` (govaluate's `&&`, `||`, `!`), where
the only values Argo substitutes are numbers water-job wrote itself: no user text is ever evaluated by Argo."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from water import expressions

_TOKEN = re.compile(r"\s*(?:(\{\{.*?\}\})|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(==|!=|<=|>=|<|>)|(\(|\))|"
                    r"(and|or|not)\b|(\S+))", re.S)
_ARGO = {"and": "&&", "or": "||", "not": "!"}
_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class ConditionError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any  # float or expressions.Ref
    right: Any


@dataclass(frozen=True)
class Logic:
    op: str  # and | or | not
    parts: tuple


def parse(text: str) -> Any:
    """The condition's tree; ConditionError at the first thing that is not part of one."""
    tokens = [(m.start(m.lastindex or 0), m.lastindex, m.group(m.lastindex)) for m in _TOKEN.finditer(text)
              if m.lastindex]
    parser = _Parser(tokens, len(text))
    tree = parser.expression()
    if parser.i < len(tokens):
        raise ConditionError(tokens[parser.i][0], f"unexpected '{tokens[parser.i][2]}'")
    return tree


class _Parser:
    def __init__(self, tokens: list, end: int) -> None:
        self.tokens, self.i, self.end = tokens, 0, end

    def _peek(self) -> tuple:
        return self.tokens[self.i] if self.i < len(self.tokens) else (self.end, 0, "")

    def _take(self) -> tuple:
        token = self._peek()
        self.i += 1
        return token

    def expression(self) -> Any:
        return self._joined("or", self._and)

    def _and(self) -> Any:
        return self._joined("and", self._not)

    def _joined(self, word: str, part: Callable[[], Any]) -> Any:
        parts = [part()]
        while self._peek()[2] == word:
            self._take()
            parts.append(part())
        return parts[0] if len(parts) == 1 else Logic(word, tuple(parts))

    def _not(self) -> Any:
        if self._peek()[2] == "not":
            self._take()
            return Logic("not", (self._not(),))
        if self._peek()[2] == "(":
            self._take()
            inner = self.expression()
            offset, _, closing = self._take()
            if closing != ")":
                raise ConditionError(offset, "'(' is not closed")
            return inner
        left = self._operand()
        offset, group, op = self._take()
        if group != 3:
            raise ConditionError(offset, f"expected a comparison (== != < <= > >=) after the value, got "
                                         f"{repr(op) if op else 'the end'}")
        return Compare(op, left, self._operand())

    def _operand(self) -> Any:
        offset, group, text = self._take()
        if group == 2:
            return float(text)
        if group == 1:
            parts = expressions.parse(text)
            if len(parts) == 1 and isinstance(parts[0], expressions.Ref) and parts[0].root == "steps":
                return parts[0]
            raise ConditionError(offset, f"{text}: a condition compares numbers steps produce "
                                         "({{steps.NAME.metrics.KEY}}, {{steps.NAME.bytes}}) and number literals")
        what = repr(text) if text else "the end"
        if text[:1] in ("'", '"'):
            what += " (a condition compares numbers: no strings)"
        raise ConditionError(offset, f"expected a number or {{{{steps.NAME.OUTPUT}}}}, got {what}")


def refs(tree: Any) -> list:
    """The step outputs a condition reads."""
    if isinstance(tree, Compare):
        return [side for side in (tree.left, tree.right) if isinstance(side, expressions.Ref)]
    return [ref for part in tree.parts for ref in refs(part)]


def holds(tree: Any, values: dict) -> bool:
    """The condition over the run's values (`steps.NAME.OUTPUT` → the text a step wrote)."""
    if isinstance(tree, Compare):
        left, right = (float(values[s.key]) if isinstance(s, expressions.Ref) else s for s in (tree.left, tree.right))
        return _COMPARE[tree.op](left, right)
    if tree.op == "not":
        return not holds(tree.parts[0], values)
    found = (holds(part, values) for part in tree.parts)
    return any(found) if tree.op == "or" else all(found)


def describe(tree: Any, values: dict) -> str:
    """The condition with the values it was decided on, e.g. `0.85 >= 0.9`."""
    if isinstance(tree, Compare):
        sides = [values.get(s.key, "?") if isinstance(s, expressions.Ref) else f"{s:g}" for s in (tree.left, tree.right)]
        return f"{sides[0]} {tree.op} {sides[1]}"
    if tree.op == "not":
        return f"not ({describe(tree.parts[0], values)})"
    return f" {tree.op} ".join(f"({describe(p, values)})" if isinstance(p, Logic) else describe(p, values)
                               for p in tree.parts)


def plain_number(value: float) -> str:
    """A number as digits and a point, never an exponent: what Argo's `when` reader takes as a number. Argo
    evaluates `when` with govaluate (workflow/controller/steps.go, shouldExecute), whose lexer reads a number
    while it sees digits and '.' (Knetic/govaluate parsing.go, isNumeric): `1e-05` would be 1 then a name;
    a minus sign is its prefix operator, so -0.5 is read as negated 0.5."""
    text = format(value, ".12f").rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def to_argo(tree: Any, task_of: Callable[[str], str]) -> str:
    """Argo's `when` (govaluate): numbers as literals, step outputs as the task parameters water-job wrote."""
    if isinstance(tree, Compare):
        sides = [expressions.to_argo(s, task_of) if isinstance(s, expressions.Ref) else plain_number(s)
                 for s in (tree.left, tree.right)]
        return f"{sides[0]} {tree.op} {sides[1]}"
    if tree.op == "not":
        return f"!({to_argo(tree.parts[0], task_of)})"
    return f" {_ARGO[tree.op]} ".join(f"({to_argo(p, task_of)})" for p in tree.parts)
