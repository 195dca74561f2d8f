"""A validated pipeline: the spec model plus everything the checks resolved
(graph, effective settings per step, project files, references)."""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from typing import Any

from water import checks, conditions, contract, expressions
from water.errors import BadParameter, Problem, SpecError, UnreadableSpec
from water.spec import fastyaml
from water.spec.fields import Ctx, as_data, did_you_mean, mark_of, model_of, parse
from water.spec.model import BUILTIN_RESOURCES, PipelineDoc, PipelineSpec, SecretRef
from water.spec.types import EXPR_OPEN
from water.steps import KINDS
from water.spec.marked import text_mark
from water.steps.base import NUMBER, Kind, Prepared
from water.textfile import NotUtf8, read_text

SPEC_FILE = "water.yaml"
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_RESERVED_ENV = contract.RESERVED_ENV_PREFIXES
RESERVED_STEP_PREFIX = "water-"
_RESOURCE_FIELDS = ("cpu", "memory", "gpu")


@dataclass
class PipelineStep:
    """One step with its effective settings (step → spec.defaults → built in)."""

    name: str
    kind: Kind
    config: Any  # the kind's spec model
    after: tuple
    retries: int
    timeout: int
    resources: dict
    env: dict  # name → text (may hold expressions)
    secret_env: dict  # name → SecretRef
    sizing: Any  # water.spec.model.Sizing, or None
    outputs: tuple
    prepared: Prepared
    refs: tuple  # (Ref, mark, field path) of every reference the step's texts use, in first-use order
    path: str  # where the step is in the spec: spec.steps[i]
    when: Any = None  # the parsed `when:` condition (water.conditions), or None

    def job_config(self) -> dict:
        return self.kind.job_config(self.config, self.prepared)

    @property
    def measured_output(self) -> str | None:
        """The output a later step's sizing measures (its kind says which)."""
        return self.kind.measured_output(self.config)

    @property
    def fans_out(self) -> bool:
        return bool(self.sizing and any(t.parallelism and t.parallelism > 1 for t in self.sizing.tiers))


@dataclass
class Pipeline:
    doc: PipelineDoc
    file: str
    project_dir: str
    steps: tuple  # PipelineStep, in spec order
    upstream: dict  # step → frozenset of every step it (transitively) waits for
    source_hash: str
    text: str = ""  # the spec as read, for locating problems found after validation (see marked())

    @property
    def name(self) -> str:
        return self.doc.metadata.name

    @property
    def spec(self) -> PipelineSpec:
        return self.doc.spec

    @property
    def run_zone(self) -> str | None:
        """The time zone {{run.date}} is the date in: the schedule's (UTC without one)."""
        schedule = self.spec.schedule
        return schedule.timezone if schedule and schedule.timezone else None

    @functools.cached_property
    def gated(self) -> frozenset:
        """The steps with a `when:` condition."""
        return frozenset(s.name for s in self.steps if s.when is not None)

    def decided_by_argo(self, step: PipelineStep) -> bool:
        """Whether the step's `when:` compares numbers only, which Argo's `when` may decide (else a `water-job
        when` task decides it, and Argo reads only its true or false)."""
        return conditions.numbers_only(step.when, lambda ref: output_kind(self.by_name, ref) == NUMBER)

    def secrets(self) -> list:
        """[Secret name, the field that names it] of every Secret the pods read: the Slack webhook's, and each
        step's env from a Secret."""
        slack = self.spec.alerts.slack if self.spec.alerts else None
        found = [[slack.webhook_secret, "spec.alerts.slack.webhookSecret"]] if slack else []
        return found + [[ref.secret, f"{step.path}.env.{name}"] for step in self.steps
                        for name, ref in sorted(step.secret_env.items())]

    @functools.cached_property
    def by_name(self) -> dict:
        """Step name → step (made once: render asks for thousands of steps)."""
        return {s.name: s for s in self.steps}

    @functools.cached_property
    def aws(self) -> dict:
        """spec.aws as plain data, as every step's config carries it (made once: thousands of steps share it)."""
        return as_data(self.spec.aws)

    @property
    def default_resources(self) -> dict:
        """Resources of water's own small tasks (size, notify)."""
        return merge_resources(self.spec.defaults.resources)

    def param_values(self, given: dict) -> dict:
        """The declared parameters with `given` overriding them; an unknown name is an error."""
        declared = dict(self.spec.params)
        check_overrides(given)
        for name in given:
            if name not in declared:
                raise BadParameter(f"unknown parameter '{name}' (declared: {', '.join(sorted(declared)) or 'none'})")
        return {**declared, **given}

    def sources(self) -> dict:
        """The project files the spec read besides itself (path → text): what a revision keeps to re-render."""
        found = {}
        for step in self.steps:
            found.update(step.prepared.files.values())
            found.update(step.prepared.named)
        return found

    def step(self, name: str) -> PipelineStep:
        return self.by_name[name]


def spec_path(path: str | None) -> str:
    """`water.yaml` in the current folder, in a folder given, or the file given."""
    path = path or SPEC_FILE
    return os.path.join(path, SPEC_FILE) if os.path.isdir(path) else path


def namespace_here(name: str | None = None, folder: str = ".") -> str | None:
    """The namespace the spec in `folder` names, when it is the pipeline `name` (or any, without a name): what
    `water run/status/logs/history NAME` use there unless -n says otherwise, as `water deploy` does."""
    try:
        with open(os.path.join(folder, "water.yaml"), encoding="utf-8") as f:
            data = fastyaml.load(f.read())
    except (OSError, UnicodeDecodeError):
        return None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(metadata, dict) or (name is not None and metadata.get("name") != name):
        return None
    namespace = metadata.get("namespace")
    return namespace if isinstance(namespace, str) and namespace else None


def environment(p: Pipeline, name: str) -> Any:
    """spec.environments[name], or a one-line error naming the ones there are."""
    found = p.spec.environments.get(name)
    if found is None:
        known = ", ".join(sorted(p.spec.environments)) or "none"
        raise BadParameter(f"--env {name}: {p.file} has no such environment (spec.environments: {known})")
    return found


def in_environment(p: Pipeline, name: str) -> Pipeline:
    """The pipeline as it deploys to environment `name`: its namespace, parameter defaults and image."""
    env = environment(p, name)
    p.spec.params = {**p.spec.params, **env.params}
    if env.image:
        p.spec.image = env.image
    if env.namespace:
        p.doc.metadata.namespace = env.namespace
    return p


def check_overrides(given: dict) -> None:
    """--param values are held to what `params` allows: no expressions, which Argo would evaluate."""
    for name, value in given.items():
        if EXPR_OPEN in value:
            raise BadParameter(f"--param {name}: expressions ({{{{...}}}}) are not allowed in a parameter value, "
                               "as in spec.params")


def load(path: str | None = None) -> Pipeline:
    """Read, parse and check a spec; raise SpecError listing every problem found."""
    file = spec_path(path)
    return load_text(read_spec(file), file, os.path.dirname(os.path.abspath(file)))


def read_spec(file: str) -> str:
    """The spec's text; a file that is missing, unreadable or not UTF-8 is a one-line error."""
    try:
        return read_text(file)
    except OSError as exc:
        raise UnreadableSpec(f"{file}: cannot read the spec: {exc.strerror}") from None
    except NotUtf8 as exc:
        raise SpecError([Problem(file, exc.line, exc.col, "", exc.reason)]) from None


def load_text(text: str, file: str, project_dir: str) -> Pipeline:
    data = fastyaml.load(text)
    if data is not None:
        try:
            return _check(data, text, file, project_dir)
        except SpecError:
            pass  # the fast loader has no line marks: locate the problems with the marked one
    from water.spec import yamlmarks

    return _check(yamlmarks.load(text, file), text, file, project_dir)


def check_local_files(p: Pipeline) -> None:
    """SpecError unless every spec.local.tables entry is in the project: what `water validate` and a local run
    check first (not every load: a deployed revision keeps the spec's files, not its sample data)."""
    ctx = Ctx(p.file)
    checks.check_local_tables(p.doc, p.project_dir, ctx)
    if ctx.problems:
        located = marked(p)  # with line marks, to say where
        ctx = Ctx(p.file)
        checks.check_local_tables(located.doc, located.project_dir, ctx)
        raise SpecError(ctx.problems)


def marked(p: Pipeline) -> Pipeline:
    """The same pipeline read with line marks (the fast loader keeps none), to point at a later problem."""
    from water.spec import yamlmarks

    return _check(yamlmarks.load(p.text, p.file), p.text, p.file, p.project_dir)


def _check(data, text: str, file: str, project_dir: str) -> Pipeline:
    ctx = Ctx(file)
    if not isinstance(data, dict):
        ctx.problem(getattr(data, "mark", (1, 1)), "", "the spec must be a mapping (apiVersion, kind, ...)")
        raise SpecError(ctx.problems)
    doc = parse(PipelineDoc, data, ctx)
    if ctx.problems:
        raise SpecError(ctx.problems)
    upstream = checks.check_graph(doc, ctx)
    if ctx.problems and not upstream:  # a cycle: no step's upstream is known
        raise SpecError(ctx.problems)
    steps = tuple(_check_step(doc, s, i, upstream, project_dir, ctx) for i, s in enumerate(doc.spec.steps))
    _check_references(doc, steps, upstream, ctx)
    checks.check_runner(doc, ctx)
    checks.check_triggers(doc, ctx)
    checks.check_environments(doc, ctx)
    if ctx.problems:
        raise SpecError(ctx.problems)
    # the files as written, as a revision keeps them: an edit of any of them is a new revision
    digest = hashlib.sha256(text.encode())
    for step in steps:
        for _, (_, content) in sorted(step.prepared.files.items()):
            digest.update(content.encode())
    return Pipeline(doc, file, project_dir, steps, upstream, digest.hexdigest(), text)


def merge_resources(*sources: Any) -> dict:
    """Built-in resources overridden, field by field, by each source in turn."""
    resources = dict(BUILTIN_RESOURCES)
    for source in sources:
        if source:
            for name in _RESOURCE_FIELDS:
                amount = getattr(source, name)
                if amount is not None:
                    resources[name] = amount
    return resources


def _effective(step, defaults):
    resources = merge_resources(defaults.resources, step.resources)
    retries = step.retries if step.retries is not None else defaults.retries
    timeout = step.timeout if step.timeout is not None else defaults.timeout
    return resources, retries, timeout


def _check_step(doc, step, i, upstream, project_dir, ctx) -> PipelineStep:
    path = checks.step_path(i)
    kind = KINDS[step.kind]
    cpath = f"{path}.{step.kind}"
    if step.name.startswith(RESERVED_STEP_PREFIX):
        ctx.problem(mark_of(step, "name"), f"{path}.name", f"step names starting with '{RESERVED_STEP_PREFIX}' "
                    "are reserved for water's own tasks")
    prepared = kind.prepare(step.config, project_dir, cpath, ctx)
    texts = list(model_of(kind.spec).texts(step.config, mark_of(step, "config"), cpath, checks.needs_check))
    env, secret_env = {}, {}
    for name, value in step.env.items():
        at = (step.env.value_marks[name], f"{path}.env.{name}")
        if name.startswith(_RESERVED_ENV):
            ctx.problem(*at, f"names starting with {', '.join(_RESERVED_ENV)} are reserved for water and Datadog")
        if isinstance(value, SecretRef):
            secret_env[name] = value
            continue
        if name in _AWS_ENV:
            ctx.problem(*at, "AWS credentials must not be in the spec",
                        "the service account's IAM role (IRSA) provides them; or use {secret, key}")
        env[name] = value
        texts.append((at[1], at[0], value))
    when = _condition(step, path, ctx)
    if when is not None:
        texts.append((f"{path}.when", mark_of(step, "when"), step.when))
    found = checks.check_texts(texts, prepared, cpath, ctx)
    resources, retries, timeout = _effective(step, doc.spec.defaults)
    outputs = kind.step_outputs(step.config)
    if step.sizing:
        checks.check_sizing(step, kind, path, upstream, doc, ctx)
    kind.check_limits(step.config, timeout, cpath, ctx)
    kind.check_settings(step.config, doc.spec, cpath, ctx)
    return PipelineStep(step.name, kind, step.config, tuple(step.after), retries, timeout, resources, env,
                        secret_env, step.sizing, outputs, prepared, tuple(found), path, when)


def _condition(step: Any, path: str, ctx: Ctx) -> Any:
    """The step's `when:` parsed, or None (none given, or a problem reported at its offset)."""
    if step.when is None:
        return None
    try:
        return conditions.parse(step.when)
    except (conditions.ConditionError, expressions.ExpressionError) as exc:
        ctx.problem(text_mark(mark_of(step, "when"), step.when, exc.offset), f"{path}.when", str(exc))
        return None


def output_kind(by_name: dict, ref: expressions.Ref) -> str:
    """What a step output is (water.steps.base's words); a kind's outputs named per step, such as train's
    metrics.KEY, are numbers."""
    target = by_name.get(ref.name)
    return target.kind.outputs.get(ref.attr, NUMBER) if target and ref.attr in target.outputs else NUMBER


def _check_when_kinds(step: PipelineStep, by_name: dict, ctx: Ctx) -> None:
    """A condition compares numbers with numbers, texts with texts (== and != only): a step output is a number
    when its kind declares it one (a kind's outputs named per step, such as train's metrics.KEY, are numbers),
    a parameter is a text. Reported at the comparison's first expression."""
    def what(ref: expressions.Ref) -> str:
        return output_kind(by_name, ref)

    def is_number(ref: expressions.Ref) -> bool:
        return what(ref) == NUMBER

    marks = {ref: (mark, path) for ref, mark, path in step.refs if path == f"{step.path}.when"}
    for compare in conditions.compares(step.when):
        problem = conditions.mismatch(compare, is_number)
        sides = [side for side in (compare.left, compare.right) if isinstance(side, expressions.Ref)]
        if not problem or not sides:
            continue
        texts = [side for side in sides if side.root == "steps" and not is_number(side)]
        if texts and any(isinstance(side, float) for side in (compare.left, compare.right)):
            problem = f"{{{{{texts[0].key}}}}} is {what(texts[0])}, not a number"
        ctx.problem(*marks[sides[0]], problem)


def _check_references(doc, steps, upstream, ctx) -> None:
    by_name = {s.name: s for s in steps}
    params = doc.spec.params
    for step in steps:
        for ref, mark, path in step.refs:
            if ref.root == "params" and ref.name not in params:
                ctx.problem(mark, path, f"unknown parameter '{ref.name}'",
                            did_you_mean(ref.name, params) or "declare it under spec.params")
            elif ref.root == "steps":
                _check_step_ref(step, ref, mark, path, by_name, upstream, ctx)
            elif ref.root == "event":
                ctx.problem(mark, path, "{{event...}} is known to a triggered run's parameters only",
                            "map it to a parameter in spec.triggers[].params and use {{params.NAME}} here")
            elif ref.root == "models" and path != f"{step.path}.when":
                ctx.problem(mark, path, "{{models...}} is read in when: conditions only (by the task that decides "
                            "them)")
        if step.when is not None:
            _check_when_kinds(step, by_name, ctx)
        step.kind.take_from(step.config, by_name, f"{step.path}.{step.kind.name}", ctx)


def _check_step_ref(step, ref, mark, path, by_name, upstream, ctx) -> None:
    target = by_name.get(ref.name)
    if target is None:
        ctx.problem(mark, path, f"unknown step '{ref.name}'", did_you_mean(ref.name, by_name))
    elif ref.name == step.name:
        ctx.problem(mark, path, f"step '{step.name}' cannot use its own {ref.attr}")
    elif ref.name not in upstream[step.name]:
        ctx.problem(mark, path, f"step '{ref.name}' is not upstream of '{step.name}'",
                    f"add '{ref.name}' to after")
    elif ref.attr not in target.outputs:
        have = ", ".join(target.outputs) or "none"
        ctx.problem(mark, path, f"step '{ref.name}' ({target.kind.name}) has no {ref.attr} (its outputs: {have})")
    elif target.fans_out:
        ctx.problem(mark, path, f"step '{ref.name}' fans out over shards: its outputs cannot be referenced")
