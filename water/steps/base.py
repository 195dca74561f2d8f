"""What every step kind provides. A kind is one module: its spec model, its checks,
the config its `water-job` runtime receives, and (later) its runtime and local backend."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from water.spec.fields import mark_of
from water.textfile import NotUtf8, read_text

MISSING = os.strerror(errno.ENOENT)


@dataclass
class Prepared:
    """What a kind read from the project for one step: extra texts to check, keyed by name."""

    files: dict = field(default_factory=dict)  # spec key → (path shown to the user, text)
    named: dict = field(default_factory=dict)  # other project files the spec names (path → text), unchecked


def read_project_file(project_dir: str, rel: str, on_error) -> dict:
    """{rel: text} of a file the spec names; on_error(why) reports it when it cannot be read or is not UTF-8.
    What is read is also what a deploy's revision keeps, so `water edit` can re-check the spec later."""
    root = os.path.realpath(project_dir)
    if os.path.commonpath([root, os.path.realpath(os.path.join(root, rel))]) != root:
        on_error("it is outside the project folder (a revision keeps only the project's files)")
        return {}
    try:
        return {rel: read_text(os.path.join(project_dir, rel))}
    except OSError as exc:
        on_error(exc.strerror)
    except NotUtf8 as exc:
        on_error(str(exc))
    return {}


def named_script(config, key: str, what: str, project_dir: str, path: str, ctx) -> Prepared:
    """A script the step names (train's entry, Glue's script): it must exist; a revision keeps it."""
    rel = getattr(config, key)
    if not rel:
        return Prepared()
    return Prepared(named=read_project_file(project_dir, rel, lambda why: ctx.problem(
        mark_of(config, key), f"{path}.{key}", f"{what} '{rel}' not found in the project" if why == MISSING
        else f"cannot read {what} '{rel}': {why}")))


class Kind:
    name: str = ""
    spec: type = type
    outputs: tuple = ("output",)  # what `{{steps.NAME.<output>}}` may name
    sizes: str = ""  # what a sizing tier sets for this kind: "pod", "instance" or "" (no sizing)

    def step_outputs(self, config) -> tuple:
        """The outputs a step of this kind produces, given its config."""
        return self.outputs

    def prepare(self, config, project_dir: str, path: str, ctx) -> Prepared:
        """Read the project files the step names; report problems in ctx (`path`: the kind's field path)."""
        return Prepared()

    def job_config(self, config, prepared: Prepared) -> dict:
        """The config `water-job <kind>` receives (user texts with their expressions intact)."""
        raise NotImplementedError

    def run_local(self, sr) -> dict:
        """Run the step on this machine (`sr`: a water.local.context.StepRun); return its outputs by name."""
        raise NotImplementedError
