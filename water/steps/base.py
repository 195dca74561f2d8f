"""What every step kind provides. A kind is one module: its spec model, its outputs, sizing, stop keys and
checks, the config its `water-job` runtime receives, its runtime and its local backend."""
from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from water.errors import BadInput, StepFailed
from water.spec.fields import as_data, mark_of
from water.textfile import NotUtf8, read_text

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.permissions import Scope
    from water.runtime.job import Job
    from water.spec.fields import Ctx


MISSING = os.strerror(errno.ENOENT)


@dataclass
class Prepared:
    """What a kind read from the project for one step: extra texts to check, keyed by name."""

    files: dict = field(default_factory=dict)  # spec key → (path shown to the user, text)
    named: dict = field(default_factory=dict)  # other project files the spec names (path → text), unchecked


def read_project_file(project_dir: str, rel: str, on_error: Callable[[str], object]) -> dict:
    """{rel: text} of a file the spec names; on_error(why) reports it when it cannot be read or is not UTF-8.
    What is read is also what a deploy's revision keeps, so `water edit` can re-check the spec later."""
    root = os.path.realpath(project_dir)
    if os.path.commonpath([root, os.path.realpath(os.path.join(root, rel))]) != root:
        on_error("it is outside the project folder (a revision keeps only the project's files)")
        return {}
    try:
        return {rel: read_text(os.path.join(project_dir, rel))}
    except OSError as exc:
        on_error(exc.strerror or str(exc))
    except NotUtf8 as exc:
        on_error(str(exc))
    return {}


def named_script(config: Any, key: str, what: str, project_dir: str, path: str, ctx: Ctx) -> Prepared:
    """A script the step names (train's entry, Glue's script): it must exist; a revision keeps it."""
    rel = getattr(config, key)
    if not rel:
        return Prepared()
    return Prepared(named=read_project_file(project_dir, rel, lambda why: ctx.problem(
        mark_of(config, key), f"{path}.{key}", f"{what} '{rel}' not found in the project" if why == MISSING
        else f"cannot read {what} '{rel}': {why}")))


@dataclass
class Lasting:
    """Something a step made in AWS that outlives the pipeline's runs (an endpoint, a Glue job), and how to remove
    it. `asks`: why `water delete` asks before removing it (it serves: `--keep-endpoint` keeps it); "" when it goes
    with the pipeline, being only its definition in AWS."""

    what: str
    remove: Callable[[], object]
    asks: str = ""


@dataclass
class Defined:
    """Something a deploy defines in AWS from the spec (a Glue job) against what AWS has now: `action` is created,
    configured or unchanged; `before` (None: AWS has none) and `after` as a reviewer compares them; `apply()`
    makes AWS match the spec."""

    what: str
    action: str
    before: dict | None
    after: dict
    apply: Callable[[], object]

    def __str__(self) -> str:
        return f"{self.what} {self.action}"


# what an output is (Kind.outputs): what later steps and water's own tasks may do with it
PREFIX = "an S3 prefix"  # `output`: measured by sizing and by `bytes`
MODEL = "a model artifact"
NUMBER = "a number"
DOCUMENT = "a JSON document"
VERSION = "a model version (its ARN)"
ENDPOINT = "a SageMaker endpoint (its ARN)"


class Kind:
    """Everything about one step kind, with the defaults a kind that says nothing gets. A kind is one module: a
    subclass of this, its spec model, and `water.steps.register(KIND)`; nothing else names it."""

    name: str = ""
    spec: type = type  # the spec model of the fields under the kind's key
    outputs: dict = {"output": PREFIX}  # what `{{steps.NAME.<output>}}` may name, and what each is
    sizes: str = ""  # what a sizing tier sets for this kind: "pod", "instance" or "" (cannot be sized)
    image_scope: str = ""  # SageMaker's scope for a framework:version image: "training", "inference", or none
    stop_keys: tuple | None = None  # the spec keys cleanup needs to find the run's AWS job; None: no AWS job
    plain_cronjob: bool = False  # whether a one-step pipeline of this kind may run as a plain CronJob
    lineage: bool = False  # whether its pod is told the spec hash and git commit its run was deployed from
    priced: bool = False  # whether its pod prices the AWS job it ran (water.runtime.cost): the `cost` output

    @property
    def stops_aws_job(self) -> bool:
        """Whether a failed run's exit handler must look for this kind's AWS job (water-job cleanup)."""
        return self.stop_keys is not None

    def step_outputs(self, config: Any) -> tuple:
        """The outputs a step of this kind produces, given its config."""
        return tuple(self.outputs)

    def measured_output(self, config: Any) -> str | None:
        """The output a later step's sizing measures: the step's first S3 prefix, if it has one."""
        return next((name for name in self.step_outputs(config) if self.outputs.get(name) == PREFIX), None)

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        """Read the project files the step names; report problems in ctx (`path`: the kind's field path)."""
        return Prepared()

    def check_limits(self, config: Any, timeout: int, path: str, ctx: Ctx) -> None:
        """Check the step's own limits against its timeout (`path`: the kind's field path)."""

    def check_settings(self, config: Any, spec: Any, path: str, ctx: Ctx) -> None:
        """Check the step against the pipeline-wide settings (`spec`: the spec's `spec`, e.g. its `aws`)."""

    def take_from(self, config: Any, by_name: dict, path: str, ctx: Ctx) -> None:
        """Settings a step takes from the steps it references (`by_name`: every step of the pipeline by name)."""

    def job_config(self, config: Any, prepared: Prepared) -> dict:
        """The config `water-job <kind>` receives (user texts with their expressions intact)."""
        return as_data(config)

    def run_local(self, sr: StepRun) -> dict:
        """Run the step on this machine (`sr`: a water.local.context.StepRun); return its outputs by name."""
        raise StepFailed(f"{self.name} steps do not run locally")

    def run_cluster(self, job: Job) -> dict:
        """Run the step in its pod (`job`: a water.runtime.job.Job); return its outputs by name."""
        raise BadInput(f"{self.name} steps do not run in a pod")

    def stop_run(self, job: Job) -> str | None:
        """Stop this step's AWS job of the run if it still runs (the exit handler's cleanup); what, or None."""
        return None

    def permissions(self, step: Any, scope: Scope) -> list:
        """The IAM statements this step's pod needs (water.permissions), as narrow as its spec allows; a kind
        whose calls water cannot know says so in scope.note."""
        return []

    def inputs(self, spec: dict, resolve: Callable[[str], str]) -> list:
        """The S3 data a run of this step reads (prefixes or objects; `spec`: the kind's fields as data, `resolve`
        gives an expression's value): what lineage records with each object's ETag."""
        return []

    def local_entry(self, config: Any) -> str:
        """The script a local run of this step runs (and a model it makes is served with); '' for none."""
        return ""

    def aws_definitions(self, step: Any, pipeline: Any) -> list:
        """What `water deploy` defines in AWS for this step of the validated pipeline, as JSON data with "kind" and
        "what" (as a person names it) keys: the manifests carry it, so a revision (and its rollback) defines exactly
        what it deployed."""
        return []

    def defined(self, definition: dict, files: dict, client: Callable[..., Any]) -> Defined:
        """One of aws_definitions' records against what AWS has (`files`: the project files the revision keeps;
        client(service, region) makes AWS clients)."""
        raise NotImplementedError(f"{self.name} steps define nothing in AWS")

    def deploy_permissions(self, definition: dict, scope: Scope) -> list:
        """The IAM statements whoever runs `water deploy` needs to define one of aws_definitions' records."""
        return []

    def lasting(self, spec: dict, pipeline: str, client: Callable[[str], Any]) -> list:
        """What this step made in AWS that outlives the runs and `water delete` may remove (Lasting each): `spec`,
        the kind's fields as a deployed revision has them; client(service) makes an AWS client."""
        return []


def image_of_model(config: Any, by_name: dict, path: str, ctx: Ctx) -> None:
    """A kind serving a `model` without `image` takes the image of the train step whose model it is (the image
    that trained it); a model that is no step's needs its image."""
    from water import expressions

    if config.image:
        return
    try:
        refs = expressions.refs(config.model)
    except expressions.ExpressionError:
        return  # the text checks said what is wrong with it, at its line
    models = [r for r in refs if r.root == "steps" and (
        r.name not in by_name or by_name[r.name].kind.outputs.get(r.attr) == MODEL)]
    if not models:
        ctx.problem(mark_of(config, "model"), f"{path}.image", "image is required when model is not a train step's "
                    "model")
    elif models[0].name in by_name:
        config.image = by_name[models[0].name].config.image


def trained_entry(sr: StepRun, model: str) -> str:
    """The entry script of the train step whose `{{steps.TRAIN.model}}` `model` is: its model_fn & co. are the
    model's inference code in local runs. '' when the model is no train step's or it has no entry."""
    from water import expressions

    trained = [r.name for r in expressions.refs(model) if r.root == "steps" and r.attr == "model"]
    if not trained:
        return ""
    step = sr.run.pipeline.step(trained[0])
    return step.kind.local_entry(step.config)

