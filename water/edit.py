"""`water edit`: kubectl edit's loop on a pipeline's live spec — open it in an editor, validate on save,
reopen with the problems on top until it is valid or unchanged, then deploy it."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from water import deploy, pipeline
from water.console import Console
from water.errors import BadParameter, SpecError, WaterError

if TYPE_CHECKING:
    from water.cluster import Cluster


HEADER = "# water: "  # the lines water adds on top; removed before validating


def editor_command() -> list:
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def edit(cluster: Cluster, name: str, namespace: str, *, console: Console = Console(),
         datadog: Any | None = None) -> int | None:
    from water.revisions import ConfigMapStore, pick

    store = ConfigMapStore(cluster, namespace)
    revision = pick(store.list(name), name, namespace, None)
    with tempfile.TemporaryDirectory(prefix=f"water-edit-{name}-") as folder:
        for path, text in revision.files.items():
            if os.path.isabs(path) or os.path.normpath(path).startswith(".."):
                raise WaterError(f"revision {revision.number} names a file outside its project: {path}")
            _write(os.path.join(folder, path), text)
        file = os.path.join(folder, pipeline.SPEC_FILE)
        text, header, last_invalid = revision.spec, "", None
        while True:
            _write(file, header + text)
            done = subprocess.run(editor_command() + [file], check=False)
            if done.returncode != 0:
                raise WaterError(f"the editor exited with {done.returncode}; edit cancelled, nothing deployed")
            saved = _strip_header(pipeline.read_spec(file))
            if not saved.strip():
                raise WaterError("Edit cancelled, saved file was empty.")
            if saved == revision.spec:
                console.echo("Edit cancelled, no changes made.")
                return None
            if saved == last_invalid:
                raise WaterError("Edit cancelled: the spec still has the errors shown; nothing deployed")
            try:
                p = pipeline.load_text(saved, pipeline.SPEC_FILE, folder)
            except SpecError as exc:
                text, last_invalid = saved, saved
                header = _header(exc)
                continue
            env = revision.info.get("env", "")  # deployed as an environment: edited, it stays that environment
            if env:
                try:
                    pipeline.in_environment(p, env)
                except BadParameter as exc:
                    text, last_invalid = saved, saved
                    header = f"{HEADER}fix what is below and save; save it unchanged or empty to give up.\n" \
                             f"{HEADER}{exc}: revision {revision.number} is deployed as it\n"
                    continue
            bundle = deploy.bundle_from_pipeline(p, saved, revision.params, f"edit of revision {revision.number}")
            bundle.env = env
            return deploy.deploy(cluster, bundle, namespace, console=console, store=store,
                                 **({"datadog": datadog} if datadog else {}))


def _header(exc: SpecError) -> str:
    lines = ["fix what is below and save; save it unchanged or empty to give up."]
    lines += [str(replace(p, line=p.line + len(exc.problems) + 1)) for p in exc.problems]
    return "".join(f"{HEADER}{line}\n" for line in lines)


def _strip_header(text: str) -> str:
    lines = text.splitlines(True)
    while lines and lines[0].startswith(HEADER):
        lines.pop(0)
    return "".join(lines)


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
