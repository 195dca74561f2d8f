"""`when:` conditions: comparisons (`== != < <= > >=`) of numbers — literals and the numbers steps produce
(`{{steps.NAME.metrics.KEY}}`, `.bytes`, and `{{models.GROUP.live.metrics.KEY}}`, a metric of the version that
serves now) — and (`==`, `!=`) of texts — quoted literals, `{{params.NAME}}` and a
step's other outputs — joined by `and`, `or`, `not` and parentheses. Parsed once into a tree; evaluated locally
with the run's values. On the cluster a condition of numbers only is compiled to Argo's `when` (govaluate's `&&`,
`||`, `!`), where the only values Argo substitutes are numbers water-job wrote itself; one with texts is decided
by a `water-job when` task before the step, whose answer (true or false) is all Argo reads: no user text is
ever evaluated by Argo. So is one reading a live model's metric, which the task asks of SageMaker."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from water import contract, expressions

_TOKEN = re.compile(r"\s*(?:(\{\{.*?\}\})|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(==|!=|<=|>=|<|>)|(\(|\))|"
                    r"(and|or|not)\b|('[^']*'|\"[^\"]*\")|(\S+))", re.S)
EXPRESSION, NUMBER, OPERATOR, TEXT = 1, 2, 3, 6  # the token groups
_ARGO = {"and": "&&", "or": "||", "not": "!"}
_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class ConditionError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Text:
    """A quoted literal."""

    value: str


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any  # float, Text or expressions.Ref
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
        start = self._peek()[0]
        left = self._operand()
        offset, group, op = self._take()
        if group != OPERATOR:
            raise ConditionError(offset, f"expected a comparison (== != < <= > >=) after the value, got "
                                         f"{repr(op) if op else 'the end'}")
        found = Compare(op, left, self._operand())
        _check_literals(found, start)
        return found

    def _operand(self) -> Any:
        offset, group, text = self._take()
        if group == NUMBER:
            return float(text)
        if group == TEXT:
            return Text(text[1:-1])
        if group == EXPRESSION:
            parts = expressions.parse(text)
            if len(parts) == 1 and isinstance(parts[0], expressions.Ref) and parts[0].root in ("steps", "params",
                                                                                               "models"):
                return parts[0]
            raise ConditionError(offset, f"{text}: a condition compares what steps produce "
                                         "({{steps.NAME.OUTPUT}}), parameters ({{params.NAME}}), the metrics of the "
                                         "model that serves ({{models.GROUP.live.metrics.NAME}}) and literals")
        raise ConditionError(offset, "expected a number, a quoted text or {{steps.NAME.OUTPUT}}, got "
                                     f"{repr(text) if text else 'the end'}")


def _check_literals(compare: Compare, offset: int) -> None:
    """What the parser can tell alone, of two literals: a text compared with a number, or texts ordered."""
    if isinstance(compare.left, expressions.Ref) or isinstance(compare.right, expressions.Ref):
        return  # the pipeline knows what the expression is
    texts = [isinstance(side, Text) for side in (compare.left, compare.right)]
    if texts[0] != texts[1]:
        raise ConditionError(offset, "compares a text with a number")
    if texts[0] and compare.op not in ("==", "!="):
        raise ConditionError(offset, f"texts compare with == and != only, not {compare.op}")


def compares(tree: Any) -> list:
    """The comparisons of a condition, in order."""
    return [tree] if isinstance(tree, Compare) else [c for part in tree.parts for c in compares(part)]


def mismatch(compare: Compare, is_number: Callable[[expressions.Ref], bool]) -> str:
    """What is wrong with the kinds of values a comparison compares, given which step outputs are numbers ('' when
    nothing is): a text with a number, or texts ordered."""
    kinds = ["number" if _is_number(side, is_number) else "text" for side in (compare.left, compare.right)]
    if kinds[0] != kinds[1]:
        return f"{describe(compare, {})} compares a text with a number"
    if kinds[0] == "text" and compare.op not in ("==", "!="):
        return f"{describe(compare, {})}: texts compare with == and != only"
    return ""


def numbers_only(tree: Any, is_number: Callable[[expressions.Ref], bool]) -> bool:
    """Whether every value the condition compares is a number a step wrote, or a literal (then Argo may decide
    it: a live model's metric is asked of SageMaker, by the water-when task)."""
    return all(_is_number(side, is_number) and not _live(side) for compare in compares(tree)
               for side in (compare.left, compare.right))


def _live(side: Any) -> bool:
    return isinstance(side, expressions.Ref) and side.root == "models"


def _is_number(side: Any, is_number: Callable[[expressions.Ref], bool]) -> bool:
    if isinstance(side, expressions.Ref):
        return side.root == "models" or (side.root == "steps" and is_number(side))
    return not isinstance(side, Text)


def refs(tree: Any) -> list:
    """The step outputs and parameters a condition reads."""
    return [side for compare in compares(tree) for side in (compare.left, compare.right)
            if isinstance(side, expressions.Ref)]


def model_values(tree: Any, live_metrics: Callable[[str], tuple | None]) -> dict:
    """The `models.GROUP.live.metrics.KEY` values a condition reads: live_metrics(group) gives (the version that
    serves, its metrics), or None when none serves — then the values are None, and a comparison with one holds
    (there is nothing to beat yet). A version that serves without the metric is an error (ValueError)."""
    found: dict = {}
    for ref in (r for r in refs(tree) if r.root == "models"):
        live = live_metrics(ref.name)
        metric = ref.attr.removeprefix("live.metrics.")
        if live is not None and metric not in live[1]:
            raise ValueError(f"version {live[0]} of {ref.name}, which serves, has no metric {metric} (it has: "
                             f"{', '.join(sorted(live[1])) or 'none'})")
        found[ref.key] = None if live is None else str(live[1][metric])
    return found


def holds(tree: Any, values: dict) -> bool:
    """The condition over the run's values (`steps.NAME.OUTPUT`, `params.NAME` → the text given or written):
    numbers compared as numbers, texts as texts; a comparison with a live metric of a group none of whose
    versions serves holds (model_values)."""
    if isinstance(tree, Compare):
        left, right = (_value(side, values) for side in (tree.left, tree.right))
        if left is None or right is None:
            return True
        if isinstance(left, float) or isinstance(right, float):
            left, right = float(left), float(right)
        return _COMPARE[tree.op](left, right)
    if tree.op == "not":
        return not holds(tree.parts[0], values)
    found = (holds(part, values) for part in tree.parts)
    return any(found) if tree.op == "or" else all(found)


def _value(side: Any, values: dict) -> Any:
    if isinstance(side, expressions.Ref):
        return values[side.key]
    return side.value if isinstance(side, Text) else side


def describe(tree: Any, values: dict) -> str:
    """The condition with the values it was decided on, e.g. `0.85 >= 0.9`, `'full' == 'quick'` (a value not
    known: its expression)."""
    if isinstance(tree, Compare):
        return f"{_said(tree.left, tree.right, values)} {tree.op} {_said(tree.right, tree.left, values)}"
    if tree.op == "not":
        return f"not ({describe(tree.parts[0], values)})"
    return f" {tree.op} ".join(f"({describe(p, values)})" if isinstance(p, Logic) else describe(p, values)
                               for p in tree.parts)


def _said(side: Any, other: Any, values: dict) -> str:
    """One side as describe() shows it: texts quoted (a value compared with a text is one)."""
    if isinstance(side, float):
        return f"{side:g}"
    if isinstance(side, Text):
        return repr(side.value)
    if side.key not in values:
        return "{{%s}}" % side.key
    if values[side.key] is None:
        return f"({side.name}: none serves)"
    text = str(values[side.key])
    return repr(text) if side.root == "params" or isinstance(other, Text) else text


def source(tree: Any) -> str:
    """The condition written out again (what a `water-job when` task parses)."""
    if isinstance(tree, Compare):
        return f"{_source(tree.left)} {tree.op} {_source(tree.right)}"
    if tree.op == "not":
        return f"not ({source(tree.parts[0])})"
    return f" {tree.op} ".join(f"({source(p)})" for p in tree.parts)


def _source(side: Any) -> str:
    if isinstance(side, expressions.Ref):
        return "{{%s}}" % side.key
    if isinstance(side, Text):
        quote = '"' if "'" in side.value else "'"
        return f"{quote}{side.value}{quote}"
    return plain_number(side)


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


class WhenTask:
    """Decide a step's condition over texts (water's own task before it).

    With the run's values (parameters from the pod's environment, step outputs from its refs); its `holds` (true
    or false) is all the step's Argo `when` reads."""

    def run_cluster(self, job: Any) -> dict:
        from water.runtime.job import JobFailed

        tree = parse(job.config["when"])
        values = {ref.key: job.resolve("{{%s}}" % ref.key) for ref in refs(tree) if ref.root != "models"}
        if any(ref.root == "models" for ref in refs(tree)):
            from water.steps import endpoint

            sagemaker = job.client("sagemaker")
            try:
                values.update(model_values(tree, lambda group: endpoint.live_metrics(sagemaker, group)))
            except ValueError as exc:
                raise JobFailed(str(exc)) from None
        decided = holds(tree, values)
        said = f"when: {describe(tree, values)} is {'true' if decided else 'false'}"
        print(f"{job.config['step']}: {said}", flush=True)
        return {contract.WHEN_HOLDS: "true" if decided else "false", "said": said}


WHEN_TASK = WhenTask()
