"""The pipeline's DAG as Mermaid or Graphviz dot (and SVG through the `dot` program)."""
from __future__ import annotations

import shutil
import subprocess

from water.errors import WaterError


def _edges(pipeline):
    for step in pipeline.steps:
        for dep in step.after:
            yield dep, step.name, "after"
        if step.sizing:
            yield step.sizing.from_, step.name, "sizing"


def _label(step) -> str:
    extra = ", sized" if step.sizing else ""
    return f"{step.name}\\n({step.kind.name}{extra})"


def mermaid(pipeline) -> str:
    lines = ["flowchart TD"]
    for step in pipeline.steps:
        lines.append(f'  {_id(step.name)}["{step.name}<br/>{step.kind.name}{" · sized" if step.sizing else ""}"]')
    for src, dst, how in _edges(pipeline):
        arrow = "-.->|sizes|" if how == "sizing" else "-->"
        lines.append(f"  {_id(src)} {arrow} {_id(dst)}")
    return "\n".join(lines) + "\n"


def dot(pipeline) -> str:
    lines = [f'digraph "{pipeline.name}" {{', "  rankdir=TB;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for step in pipeline.steps:
        lines.append(f'  "{step.name}" [label="{_label(step)}"];')
    for src, dst, how in _edges(pipeline):
        style = ' [style=dashed, label="sizes"]' if how == "sizing" else ""
        lines.append(f'  "{src}" -> "{dst}"{style};')
    return "\n".join(lines) + "\n}\n"


def svg(pipeline) -> str:
    program = shutil.which("dot")
    if not program:
        raise WaterError("svg needs Graphviz's `dot` program (apt-get install graphviz); "
                         "or use --format dot or --format mermaid")
    done = subprocess.run([program, "-Tsvg"], input=dot(pipeline), capture_output=True, text=True, check=False)
    if done.returncode:
        raise WaterError(f"dot failed: {done.stderr.strip()}")
    return done.stdout


def _id(name: str) -> str:
    return name.replace("-", "_")


FORMATS = {"mermaid": mermaid, "dot": dot, "svg": svg}
