"""`water new`: a pipeline project that validates and renders at once."""
from __future__ import annotations

import os
from importlib import resources

from water.errors import WaterError
from water.spec.types import DNS_LABEL

TOKEN = "__NAME__"
RENAMES = {"ci.yml": os.path.join(".github", "workflows", "water.yml"), "gitignore": ".gitignore",
           "dockerignore": ".dockerignore"}


def create(name: str, parent: str = ".") -> str:
    """Write the project folder `parent/name`; refuse to touch an existing non-empty folder."""
    import re

    from water.schema import water_schema_json

    if not re.fullmatch(DNS_LABEL, name) or len(name) > 52:
        raise WaterError(f"'{name}' is not a valid pipeline name: lower-case letters, digits and '-', "
                         "at most 52 characters")
    target = os.path.join(parent, name)
    if os.path.exists(target) and os.listdir(target):
        raise WaterError(f"{target} already exists and is not empty")
    template = resources.files(__package__) / "project-template"
    for rel in _files(template):
        text = template.joinpath(*rel.split("/")).read_text(encoding="utf-8").replace(TOKEN, name)
        dest = os.path.join(target, RENAMES.get(rel, rel))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(target, "water.schema.json"), "w", encoding="utf-8") as f:
        f.write(water_schema_json())
    return target


def _files(folder, prefix=""):
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _files(entry, rel + "/")
        else:
            yield rel
