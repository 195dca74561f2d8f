"""The checks of a spec that span fields: the step graph, expressions and credentials in texts,
sizing, timeouts and the runner. Each reports into a Ctx with the spec location."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from water import expressions
from water.spec.fields import Ctx, did_you_mean, is_set, mark_of
from water.spec.marked import file_mark, in_file, text_mark
from water.spec.types import EXPR_OPEN
from water.steps import KINDS

if TYPE_CHECKING:
    from water.pipeline import PipelineStep
    from water.spec.model import PipelineDoc
    from water.steps.base import Prepared


_AWS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


def step_path(i: int) -> str:
    return f"spec.steps[{i}]"


def check_graph(doc: PipelineDoc, ctx: Ctx) -> dict:
    """Unique names, known `after`, no cycles; returns each step's transitive upstream — of the steps it waits
    for that exist, so that the checks after this one report their problems too ({} after a cycle)."""
    steps = doc.spec.steps
    first: dict = {}
    for i, s in enumerate(steps):
        if s.name in first:
            # a step brought in by an alias or a `<<` merge has its name written before it: locate the step
            ctx.problem(max(mark_of(s, "name"), mark_of(s)), f"{step_path(i)}.name",
                        f"duplicate step name '{s.name}' (first at line {mark_of(first[s.name], 'name')[0]})")
        else:
            first[s.name] = s
    for i, s in enumerate(steps):
        for j, dep in enumerate(s.after):
            if dep == s.name or dep not in first:
                _unknown_dependency(s, i, j, first, ctx)
    known = {name: [d for d in s.after if d in first and d != name] for name, s in first.items()}
    order, cycle = _dependency_order(known)
    if cycle:
        s = first[cycle[0]]
        ctx.problem(mark_of(s, "after"), f"{step_path(steps.index(s))}.after",
                    f"steps wait for each other in a cycle: {' -> '.join(cycle)}")
        return {}
    upstream: dict = {}
    for name in order:  # a step's upstream steps come before it: their own upstream is known
        upstream[name] = frozenset(known[name]).union(*(upstream[d] for d in known[name]))
    return upstream


def _unknown_dependency(s, i: int, j: int, first: dict, ctx: Ctx) -> None:
    dep, at = s.after[j], (s.after.item_marks[j], f"{step_path(i)}.after[{j}]")
    if dep == s.name:
        ctx.problem(*at, f"step '{s.name}' cannot wait for itself")
    else:
        ctx.problem(*at, f"unknown step '{dep}'", did_you_mean(dep, first))


def _dependency_order(waits: dict) -> tuple[list, list]:
    """(step names, each after the steps it waits for (`waits`: name → those names); []), or ([], a cycle: names
    with the first repeated last). One depth-first walk, iterative: deep graphs are fine."""
    state: dict = {}  # name → "open" while on the walk's path, then "done"
    order = []
    for root in waits:
        if root in state:
            continue
        state[root] = "open"
        path, pending = [root], [iter(waits[root])]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                name = path.pop()
                pending.pop()
                state[name] = "done"
                order.append(name)
            elif state.get(dep) == "open":
                return [], path[path.index(dep):] + [dep]
            elif dep not in state:
                state[dep] = "open"
                path.append(dep)
                pending.append(iter(waits[dep]))
    return order, []


def needs_check(text: str) -> bool:
    """Whether a user text may hold an expression or an AWS key: else there is nothing to parse or flag."""
    return "{{" in text or "AKIA" in text or "ASIA" in text


def check_texts(texts: Any, prepared: Prepared, kind_path: str, ctx: Ctx) -> list:
    """Parse every expression; flag literal AWS keys. Returns the refs in first-use order (with marks)."""
    found: dict = {}
    for path, mark, text in texts:
        if needs_check(text):
            _check_text(text, path, lambda off, t=text, m=mark: text_mark(m, t, off), found, ctx)
    for name, (file, text) in sorted(prepared.files.items()):
        shown = os.path.join(os.path.dirname(ctx.file), file)  # as the spec's own path is shown
        _check_text(text, f"{kind_path}.{name}", lambda off, t=text, f=shown: in_file(f, file_mark(t, off)), found,
                    ctx)
    return list(found.values())


def _check_text(text: str, path: str, where, found, ctx: Ctx) -> None:
    key = _AWS_KEY.search(text)
    if key:
        ctx.problem(where(key.start()), path, "looks like a literal AWS access key",
                    "never put credentials in the spec: use the service account's IAM role (IRSA)")
    try:
        for ref, offset in expressions.refs_at(text):
            found.setdefault(ref, (ref, where(offset), path))
    except expressions.ExpressionError as exc:
        ctx.problem(where(exc.offset), path, str(exc))


def check_sizing(step: PipelineStep, kind: Any, path: str, upstream: dict, doc: PipelineDoc, ctx: Ctx) -> None:
    sizing, spath = step.sizing, f"{path}.sizing"
    if not kind.sizes:
        ctx.problem(mark_of(step, "sizing"), spath, f"{kind.name} steps cannot be sized",
                    f"sizing applies to {_kinds_that(lambda k: k.sizes)} steps")
        return
    source = sizing.from_
    names = [s.name for s in doc.spec.steps]
    if source not in upstream.get(step.name, ()):
        why = "unknown step" if source not in names else "is not upstream of this step (add it to after)"
        hint = did_you_mean(source, names) if source not in names else ""
        ctx.problem(mark_of(sizing, "from_"), f"{spath}.from", f"'{source}' {why}", hint)
    else:
        src = next(s for s in doc.spec.steps if s.name == source)
        if KINDS[src.kind].measured_output(src.config) is None:
            ctx.problem(mark_of(sizing, "from_"), f"{spath}.from", f"step '{source}' has no output to measure")
    previous = None
    for j, tier in enumerate(sizing.tiers):
        tpath, at = f"{spath}.tiers[{j}]", mark_of(tier)
        if tier.up_to is None and j < len(sizing.tiers) - 1:
            ctx.problem(at, f"{tpath}.upTo", "only the last tier may leave out upTo")
        elif tier.up_to is not None and previous is not None and tier.up_to <= previous:
            ctx.problem(mark_of(tier, "up_to"), f"{tpath}.upTo", "tiers must be in increasing order of upTo")
        previous = tier.up_to if tier.up_to is not None else previous
        _check_tier(tier, kind, tpath, ctx)


def _check_tier(tier, kind: Any, tpath, ctx: Ctx) -> None:
    pod = ("resources", "parallelism", "node_selector")
    if kind.sizes == "instance":
        for attr in pod:
            if is_set(tier, attr):
                ctx.problem(mark_of(tier, attr), tpath, f"{kind.name} steps are sized by instance, not {attr}")
        if not tier.instance:
            ctx.problem(mark_of(tier), f"{tpath}.instance", f"a tier of a {kind.name} step sets instance")
    else:
        if is_set(tier, "instance"):
            ctx.problem(mark_of(tier, "instance"), tpath,
                        f"only {_kinds_that(lambda k: k.sizes == 'instance')} steps are sized by instance")
        if not any(is_set(tier, a) for a in pod):
            ctx.problem(mark_of(tier), tpath, "a tier sets resources, parallelism or nodeSelector")


def _kinds_that(test) -> str:
    """The names of the kinds that pass `test`, for a message: `a, b and c`."""
    names = [name for name, kind in KINDS.items() if test(kind)]
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else "no"


def check_runner(doc: PipelineDoc, ctx: Ctx) -> None:
    spec = doc.spec
    if spec.runner != "cronjob":
        return
    at = (mark_of(spec, "runner"), "spec.runner")
    steps = spec.steps
    if len(steps) != 1 or not KINDS[steps[0].kind].plain_cronjob or steps[0].sizing:
        ctx.problem(*at, f"runner cronjob takes exactly one {_kinds_that(lambda k: k.plain_cronjob)} step "
                    "without sizing", "use runner: argo for more steps")
    if not spec.schedule:
        ctx.problem(*at, "runner cronjob needs spec.schedule")
    elif is_set(spec.schedule, "via"):
        ctx.problem(mark_of(spec.schedule, "via"), "spec.schedule.via",
                    "schedule.via applies to runner: argo (runner cronjob is a plain CronJob)")
    if spec.alerts.slack:
        ctx.problem(mark_of(spec.alerts, "slack"), "spec.alerts.slack",
                    "the Slack failure handler needs runner: argo",
                    "a plain CronJob's failures reach Slack through kubewatch (water install)")


def check_local_tables(doc: PipelineDoc, project_dir: str, ctx: Ctx) -> None:
    """Each of spec.local.tables is there: a file, or a folder holding one (a typo is found here, not by DuckDB in
    the middle of a run)."""
    tables = doc.spec.local.tables if doc.spec.local else {}
    for name, location in tables.items():
        path = os.path.join(project_dir, location)
        empty = os.path.isdir(path) and not any(os.path.isfile(os.path.join(path, f)) for f in os.listdir(path))
        if not os.path.exists(path) or empty:
            at = tables.value_marks[name] if hasattr(tables, "value_marks") else mark_of(doc.spec.local, "tables")
            ctx.problem(at, f"spec.local.tables.{name}", f"'{location}' " + ("holds no file" if empty else
                        "is not in the project"), did_you_mean(location, _near(project_dir, location)))


def _near(project_dir: str, location: str) -> list:
    """The files and folders beside where `location` points, as it would be written."""
    folder = os.path.dirname(location)
    try:
        return [os.path.join(folder, f) for f in os.listdir(os.path.join(project_dir, folder) or ".")]
    except OSError:
        return []



def check_environments(doc: PipelineDoc, ctx: Ctx) -> None:
    """An environment's params are declared ones."""
    for env, settings in doc.spec.environments.items():
        for name in settings.params:
            if name not in doc.spec.params:
                ctx.problem(settings.params.key_marks[name], f"spec.environments.{env}.params.{name}",
                            f"unknown parameter '{name}'", did_you_mean(name, doc.spec.params) or
                            "declare it under spec.params")


def check_triggers(doc: PipelineDoc, ctx: Ctx) -> None:
    """Each trigger's queue has a region, and its params are declared parameters made of event fields."""
    spec = doc.spec
    for i, trigger in enumerate(spec.triggers):
        path = f"spec.triggers[{i}]"
        if spec.runner == "cronjob":
            ctx.problem(mark_of(spec, "triggers"), "spec.triggers", "triggers need runner: argo (Argo Events "
                        "submits the WorkflowTemplate)")
            return
        if not (trigger.s3.region or spec.aws.region):
            ctx.problem(mark_of(trigger, "s3"), f"{path}.s3", "the queue's region is unknown",
                        "set s3.region or spec.aws.region")
        for name, text in trigger.params.items():
            at, where = trigger.params.value_marks[name], f"{path}.params.{name}"  # Map gives a MarkedMap
            if name not in spec.params:
                ctx.problem(trigger.params.key_marks[name], where,
                            f"unknown parameter '{name}'", did_you_mean(name, spec.params) or
                            "declare it under spec.params, with the value a run not started by an event gets")
            try:
                refs = expressions.refs_at(text)
            except expressions.ExpressionError as exc:
                ctx.problem(text_mark(at, text, exc.offset), where, str(exc))
                continue
            if any(isinstance(part, str) and EXPR_OPEN in part for part in expressions.parse(text)):
                ctx.problem(at, where, "a run parameter cannot hold '{{' (Argo Workflows would read it)")
            for ref, offset in refs:
                if ref.root != "event":
                    ctx.problem(text_mark(at, text, offset), where, f"{{{{{ref.key}}}}} is not known when the event "
                                "arrives", "a trigger's params are made of event.bucket, event.key, event.size, "
                                "event.time and event.etag")
