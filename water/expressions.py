"""water's expressions: `{{run.id}}`, `{{run.date}}`, `{{params.NAME}}`, `{{steps.NAME.OUTPUT}}` (the outputs
a step's kind declares), `{{models.GROUP.live.metrics.NAME}}` (a metric of the version that serves now; in
`when:` only), `{{event.FIELD}}` (the S3 event that started the run; in spec.triggers only), and string
literals (`{{ '{{' }}` writes a literal `{{`).

Texts are split into literal parts and references; references compile to Argo's
variables. Anything else inside `{{ }}` is an error: user text never reaches Argo's
templating by accident.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from water.contract import output_param

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_REF = re.compile(r"^(?:run\.(id|date)|params\.([A-Za-z_][A-Za-z0-9_]*)|steps\.([a-z0-9][-a-z0-9]*)\.([a-z]+(?:\.[A-Za-z][A-Za-z0-9_]*)?)"
                  r"|models\.([a-zA-Z0-9](?:-*[a-zA-Z0-9])*)\.(live\.metrics\.[A-Za-z][A-Za-z0-9_]*)"
                  r"|event\.(bucket|key|size|time|etag)|git\.(commit|branch))$")
_LITERAL = re.compile(r"""^(?:'([^']*)'|"([^"]*)")$""")
HELP = ("water expressions: run.id, run.date, params.NAME, steps.NAME.OUTPUT, models.GROUP.live.metrics.NAME, "
        "git.commit, git.branch, event.bucket|key|size|time|etag (in spec.triggers), or a quoted literal")


@dataclass(frozen=True)
class Ref:
    """A reference to a value known only at run time."""

    root: str  # run | params | steps | models | event | git
    name: str  # id/date, the parameter, the step, or the model group
    attr: str = ""  # the step output, or the group's `live.metrics.NAME`

    @property
    def key(self) -> str:
        return ".".join(p for p in (self.root, self.name, self.attr) if p)


class ExpressionError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


def parse(text: str) -> list:
    """Split text into literal strings and Refs; raise ExpressionError at the first bad tag."""
    if "{{" not in text:
        return [text] if text else []
    parts: list = []
    pos = 0
    for m in _TAG.finditer(text):
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        parts.append(_part(m))
        pos = m.end()
    rest = text[pos:]
    if "{{" in rest:
        raise ExpressionError(pos + rest.index("{{"), "'{{' is not closed by '}}' (write {{ '{{' }} for a literal)")
    if rest:
        parts.append(rest)
    return parts


def _part(m: re.Match) -> str | Ref:
    """What one `{{...}}` tag is: a literal's text or a Ref."""
    inner = m.group(1).strip()
    literal = _LITERAL.fullmatch(inner)
    ref = _REF.fullmatch(inner)
    if literal:
        return literal.group(1) if literal.group(1) is not None else literal.group(2)
    if ref and ref.group(1):
        return Ref("run", ref.group(1))
    if ref and ref.group(2):
        return Ref("params", ref.group(2))
    if ref and ref.group(8):  # what the deploy came from (the pod's annotations; locally, the project's git)
        return Ref("git", ref.group(8))
    if ref and ref.group(7):  # what started the run: spec.triggers[].params only
        return Ref("event", ref.group(7))
    if ref and ref.group(5):
        return Ref("models", ref.group(5), ref.group(6))
    if ref:  # which outputs the step has, its kind says (checked with the pipeline)
        return Ref("steps", ref.group(3), ref.group(4))
    raise ExpressionError(m.start(), f"unknown expression '{m.group(0)}' ({HELP})")


def refs_at(text: str) -> list[tuple[Ref, int]]:
    """The references of a text, each with the offset of its `{{`; ExpressionError at the first bad tag."""
    parse(text)
    return [(part, m.start()) for m in _TAG.finditer(text) if isinstance(part := _part(m), Ref)]


def refs(text: str) -> list[Ref]:
    return [p for p in parse(text) if isinstance(p, Ref)]


def substitute(text: str, values: dict) -> str:
    """Resolve a text at run time: `values` maps Ref.key to its value."""
    return "".join(values[p.key] if isinstance(p, Ref) else p for p in parse(text))


def to_argo(ref: Ref, task_of: Callable[[str], str] = lambda step: step) -> str:
    """The Argo variable a reference compiles to (`task_of` maps a step to the task that produces it)."""
    if ref.root == "run" and ref.name == "id":
        return "{{workflow.name}}"
    if ref.root == "run":  # Argo has no variable for a date in the schedule's zone: water-job works it out
        raise ValueError("{{run.date}} is resolved in the step's pod, never by Argo")
    if ref.root == "params":
        return "{{workflow.parameters.%s}}" % ref.name
    if ref.root == "git":
        raise ValueError("{{git...}} is resolved in the step's pod, from the annotations of the deploy")
    if ref.root == "event":  # the Sensor writes it into the run's parameters (water.events)
        raise ValueError("{{event...}} is resolved by the Sensor that starts the run, never by Argo Workflows")
    if ref.root == "models":  # asked of SageMaker by the water-when task that decides the condition
        raise ValueError("{{models...}} is resolved in the step's pod, never by Argo")
    return "{{tasks.%s.outputs.parameters.%s}}" % (task_of(ref.name), output_param(ref.attr))
