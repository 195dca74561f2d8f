"""A validated pipeline: the spec model plus everything the checks resolved
(graph, effective settings per step, project files, references)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

from water import expressions
from water.errors import SpecError, WaterError
from water.spec import fastyaml, yamlmarks
from water.spec.fields import Ctx, Model, did_you_mean, is_set, mark_of, parse
from water.spec.model import BUILTIN_RESOURCES, PipelineDoc, SecretRef
from water.steps import KINDS
from water.steps.base import Kind, Prepared

SPEC_FILE = "water.yaml"
_AWS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_RESERVED_ENV = ("WATER_", "DD_")
RESERVED_STEP_PREFIX = "water-"


@dataclass
class PipelineStep:
    """One step with its effective settings (step → spec.defaults → built in)."""

    name: str
    kind: Kind
    config: object
    after: tuple
    retries: int
    timeout: int
    resources: dict
    env: dict  # name → text (may hold expressions)
    secret_env: dict  # name → SecretRef
    sizing: object
    outputs: tuple
    prepared: Prepared
    refs: tuple  # (Ref, mark, field path) of every reference the step's texts use, in first-use order
    path: str  # where the step is in the spec: spec.steps[i]

    def job_config(self) -> dict:
        return self.kind.job_config(self.config, self.prepared)

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

    @property
    def name(self) -> str:
        return self.doc.metadata.name

    @property
    def spec(self):
        return self.doc.spec

    @property
    def default_resources(self) -> dict:
        """Resources of water's own small tasks (size, notify)."""
        return merge_resources(self.spec.defaults.resources)

    def step(self, name: str) -> PipelineStep:
        return next(s for s in self.steps if s.name == name)


def spec_path(path: str | None) -> str:
    """`water.yaml` in the current folder, in a folder given, or the file given."""
    path = path or SPEC_FILE
    return os.path.join(path, SPEC_FILE) if os.path.isdir(path) else path


def load(path: str | None = None) -> Pipeline:
    """Read, parse and check a spec; raise SpecError listing every problem found."""
    file = spec_path(path)
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise WaterError(f"{file}: cannot read the spec: {exc.strerror}") from None
    return load_text(text, file, os.path.dirname(os.path.abspath(file)))


def load_text(text: str, file: str, project_dir: str) -> Pipeline:
    data = fastyaml.load(text)
    if data is not None:
        try:
            return _check(data, file, project_dir)
        except SpecError:
            pass  # the fast loader has no line marks: locate the problems with the marked one
    return _check(yamlmarks.load(text, file), file, project_dir)


def _check(data, file: str, project_dir: str) -> Pipeline:
    ctx = Ctx(file)
    if not isinstance(data, dict):
        ctx.problem(getattr(data, "mark", (1, 1)), "", "the spec must be a mapping (apiVersion, kind, ...)")
        raise SpecError(ctx.problems)
    doc = parse(PipelineDoc, data, ctx)
    if ctx.problems:
        raise SpecError(ctx.problems)
    upstream = _check_graph(doc, ctx)
    if ctx.problems:
        raise SpecError(ctx.problems)
    steps = tuple(_check_step(doc, s, i, upstream, project_dir, ctx) for i, s in enumerate(doc.spec.steps))
    _check_references(doc, steps, upstream, ctx)
    _check_runner(doc, ctx)
    if ctx.problems:
        raise SpecError(ctx.problems)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    for step in steps:
        for _, (_, content) in sorted(step.prepared.files.items()):
            digest.update(content.encode())
    return Pipeline(doc, file, project_dir, steps, upstream, digest.hexdigest())


def _step_path(i: int) -> str:
    return f"spec.steps[{i}]"


def _check_graph(doc, ctx) -> dict:
    """Unique names, known `after`, no cycles; returns each step's transitive upstream."""
    steps = doc.spec.steps
    first: dict = {}
    for i, s in enumerate(steps):
        if s.name in first:
            ctx.problem(mark_of(s, "name"), f"{_step_path(i)}.name",
                        f"duplicate step name '{s.name}' (first at line {mark_of(first[s.name], 'name')[0]})")
        else:
            first[s.name] = s
    for i, s in enumerate(steps):
        for j, dep in enumerate(s.after):
            at = (s.after.item_marks[j], f"{_step_path(i)}.after[{j}]")
            if dep == s.name:
                ctx.problem(*at, f"step '{s.name}' cannot wait for itself")
            elif dep not in first:
                ctx.problem(*at, f"unknown step '{dep}'", did_you_mean(dep, first))
    if ctx.problems:
        return {}
    cycle = _find_cycle({s.name: list(s.after) for s in first.values()})
    if cycle:
        s = first[cycle[0]]
        ctx.problem(mark_of(s, "after"), f"{_step_path(steps.index(s))}.after",
                    f"steps wait for each other in a cycle: {' -> '.join(cycle)}")
        return {}
    upstream: dict = {}

    def ancestors(name):
        if name not in upstream:
            deps = first[name].after
            upstream[name] = frozenset(deps).union(*(ancestors(d) for d in deps))
        return upstream[name]

    for name in _topological(first):
        ancestors(name)
    return upstream


def _topological(first: dict) -> list:
    """Step names so that every step comes after the steps it waits for (iterative: deep graphs are fine)."""
    done, order = set(), []
    for root in first:
        stack = [(root, iter(first[root].after))]
        while stack:
            name, deps = stack[-1]
            dep = next((d for d in deps if d not in done), None)
            if dep is None:
                stack.pop()
                if name not in done:
                    done.add(name)
                    order.append(name)
            else:
                stack.append((dep, iter(first[dep].after)))
    return order


def _find_cycle(graph: dict) -> list:
    state: dict = {}
    for root in graph:
        if root in state:
            continue
        path, stack = [], [(root, iter(graph[root]))]
        state[root] = "open"
        path.append(root)
        while stack:
            name, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                state[name] = "done"
                stack.pop()
                path.pop()
            elif state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            elif dep not in state:
                state[dep] = "open"
                path.append(dep)
                stack.append((dep, iter(graph[dep])))
    return []


def merge_resources(*sources) -> dict:
    """Built-in resources overridden, field by field, by each source in turn."""
    resources = dict(BUILTIN_RESOURCES)
    for source in sources:
        if source:
            resources.update({k: v for k, v in (("cpu", source.cpu), ("memory", source.memory), ("gpu", source.gpu))
                              if v is not None})
    return resources


def _effective(step, defaults):
    resources = merge_resources(defaults.resources, step.resources)
    retries = step.retries if step.retries is not None else defaults.retries
    timeout = step.timeout if step.timeout is not None else defaults.timeout
    return resources, retries, timeout


def _check_step(doc, step, i, upstream, project_dir, ctx) -> PipelineStep:
    path = _step_path(i)
    kind = KINDS[step.kind]
    cpath = f"{path}.{step.kind}"
    if step.name.startswith(RESERVED_STEP_PREFIX):
        ctx.problem(mark_of(step, "name"), f"{path}.name", f"step names starting with '{RESERVED_STEP_PREFIX}' "
                    "are reserved for water's own tasks")
    prepared = kind.prepare(step.config, project_dir, cpath, ctx)
    texts = list(Model(kind.spec).texts(step.config, mark_of(step, "config"), cpath))
    env, secret_env = {}, {}
    for name, value in step.env.items():
        at = (step.env.value_marks[name], f"{path}.env.{name}")
        if name.startswith(_RESERVED_ENV):
            ctx.problem(*at, f"names starting with {' or '.join(_RESERVED_ENV)} are reserved for water and Datadog")
        if isinstance(value, SecretRef):
            secret_env[name] = value
            continue
        if name in _AWS_ENV:
            ctx.problem(*at, "AWS credentials must not be in the spec",
                        "the service account's IAM role (IRSA) provides them; or use {secret, key}")
        env[name] = value
        texts.append((at[1], at[0], value))
    found = _check_texts(texts, prepared, cpath, ctx)
    resources, retries, timeout = _effective(step, doc.spec.defaults)
    outputs = kind.step_outputs(step.config)
    if step.sizing:
        _check_sizing(step, kind, path, upstream, doc, ctx)
    _check_timeouts(step, kind, timeout, path, ctx)
    return PipelineStep(step.name, kind, step.config, tuple(step.after), retries, timeout, resources, env,
                        secret_env, step.sizing, outputs, prepared, tuple(found), path)


def _check_texts(texts, prepared, kind_path, ctx) -> list:
    """Parse every expression; flag literal AWS keys. Returns the refs in first-use order (with marks)."""
    found: dict = {}
    for path, mark, text in texts:
        _check_text(text, path, lambda off, t=text, m=mark: _text_mark(m, t, off), found, ctx)
    for name, (file, text) in sorted(prepared.files.items()):
        where = lambda off, t=text: _file_mark(t, off)  # noqa: E731
        sub = Ctx(file)
        _check_text(text, f"{kind_path}.{name}", where, found, sub)
        ctx.problems.extend(sub.problems)
    return list(found.values())


def _check_text(text, path, where, found, ctx):
    if _AWS_KEY.search(text):
        ctx.problem(where(_AWS_KEY.search(text).start()), path, "looks like a literal AWS access key",
                    "never put credentials in the spec: use the service account's IAM role (IRSA)")
    try:
        for ref in expressions.refs(text):
            found.setdefault(ref, (ref, where(text.index("{{")), path))
    except expressions.ExpressionError as exc:
        ctx.problem(where(exc.offset), path, str(exc))


def _text_mark(mark, text, offset):
    """Where offset `offset` of a YAML string stood; later lines of a block keep its indentation."""
    line = text.count("\n", 0, offset)
    if not line:
        return (mark[0], mark[1] + offset)
    return (mark[0] + line, mark[1] + offset - text.rindex("\n", 0, offset) - 1)


def _file_mark(text, offset):
    line = text.count("\n", 0, offset)
    return (line + 1, offset - (text.rindex("\n", 0, offset) if line else -1))


def _check_sizing(step, kind, path, upstream, doc, ctx):
    sizing, spath = step.sizing, f"{path}.sizing"
    if not kind.sizes:
        ctx.problem(mark_of(step, "sizing"), spath, f"{kind.name} steps cannot be sized",
                    "sizing applies to container, train and transform steps")
        return
    source = sizing.from_
    names = [s.name for s in doc.spec.steps]
    if source not in upstream.get(step.name, ()):
        why = "unknown step" if source not in names else "is not upstream of this step (add it to after)"
        hint = did_you_mean(source, names) if source not in names else ""
        ctx.problem(mark_of(sizing, "from_"), f"{spath}.from", f"'{source}' {why}", hint)
    else:
        src = next(s for s in doc.spec.steps if s.name == source)
        if "output" not in KINDS[src.kind].step_outputs(src.config):
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


def _check_tier(tier, kind, tpath, ctx):
    pod = ("resources", "parallelism", "node_selector")
    if kind.sizes == "instance":
        for attr in pod:
            if is_set(tier, attr):
                ctx.problem(mark_of(tier, attr), tpath, f"{kind.name} steps are sized by instance, not {attr}")
        if not tier.instance:
            ctx.problem(mark_of(tier), f"{tpath}.instance", f"a tier of a {kind.name} step sets instance")
    else:
        if is_set(tier, "instance"):
            ctx.problem(mark_of(tier, "instance"), tpath, "only train and transform steps are sized by instance")
        if not any(is_set(tier, a) for a in pod):
            ctx.problem(mark_of(tier), tpath, "a tier sets resources, parallelism or nodeSelector")


def _check_timeouts(step, kind, timeout, path, ctx):
    config = step.config
    if kind.name != "train":
        return
    cpath = f"{path}.train"
    if config.max_runtime is None:
        config.max_runtime = timeout
    longest = config.max_wait or config.max_runtime
    if config.max_wait and not config.spot:
        ctx.problem(mark_of(config, "max_wait"), f"{cpath}.maxWait", "maxWait applies to spot training only")
    if config.max_wait and config.max_wait < config.max_runtime:
        ctx.problem(mark_of(config, "max_wait"), f"{cpath}.maxWait", "maxWait must be at least maxRuntime")
    if longest > timeout:
        ctx.problem(mark_of(config, "max_wait" if config.max_wait else "max_runtime"), cpath,
                    f"the job may run {_hours(longest)} but the step times out after {_hours(timeout)}",
                    "raise the step's timeout")


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}h"


def _check_references(doc, steps, upstream, ctx):
    by_name = {s.name: s for s in steps}
    params = doc.spec.params
    for step in steps:
        for ref, mark, path in step.refs:
            if ref.root == "params" and ref.name not in params:
                ctx.problem(mark, path, f"unknown parameter '{ref.name}'",
                            did_you_mean(ref.name, params) or "declare it under spec.params")
            elif ref.root == "steps":
                _check_step_ref(step, ref, mark, path, by_name, upstream, ctx)
        if step.kind.name == "transform" and not step.config.image:
            if not any(r.root == "steps" and r.attr == "model" for r in expressions.refs(step.config.model)):
                ctx.problem(mark_of(step.config, "model"), f"{step.path}.transform.image",
                            "image is required when model is not a train step's model")


def _check_step_ref(step, ref, mark, path, by_name, upstream, ctx):
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


def _check_runner(doc, ctx):
    spec = doc.spec
    if spec.runner != "cronjob":
        return
    at = (mark_of(spec, "runner"), "spec.runner")
    steps = spec.steps
    if len(steps) != 1 or steps[0].kind != "container" or steps[0].sizing:
        ctx.problem(*at, "runner cronjob takes exactly one container step without sizing",
                    "use runner: argo for more steps")
    if not spec.schedule:
        ctx.problem(*at, "runner cronjob needs spec.schedule")
    elif is_set(spec.schedule, "via"):
        ctx.problem(mark_of(spec.schedule, "via"), "spec.schedule.via",
                    "schedule.via applies to runner: argo (runner cronjob is a plain CronJob)")
    if spec.alerts.slack:
        ctx.problem(mark_of(spec.alerts, "slack"), "spec.alerts.slack",
                    "the Slack failure handler needs runner: argo",
                    "a plain CronJob's failures reach Slack through kubewatch (water install)")
