"""The pipeline's DAG as Mermaid or Graphviz dot (and SVG through the `dot` program)."""
from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from water.errors import WaterError

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


def _edges(pipeline: Pipeline):
    for step in pipeline.steps:
        for dep in step.after:
            yield dep, step.name, "after"
        if step.sizing:
            yield step.sizing.from_, step.name, "sizing"


def _drawing(pipeline: Pipeline, node, edge) -> list:
    """One line per step (`node(step)`), then one per edge (`edge(src, dst, sized)`)."""
    return [node(step) for step in pipeline.steps] + [edge(src, dst, how == "sizing")
                                                      for src, dst, how in _edges(pipeline)]


def _mermaid_node(step: PipelineStep) -> str:
    sized = " · sized" if step.sizing else ""
    return f'  {_id(step.name)}["{step.name}<br/>{step.kind.name}{sized}"]'


def _mermaid_edge(src: str, dst: str, sized: bool) -> str:
    arrow = "-.->|sizes|" if sized else "-->"
    return f"  {_id(src)} {arrow} {_id(dst)}"


def mermaid(pipeline: Pipeline) -> str:
    return "\n".join(["flowchart TD", *_drawing(pipeline, _mermaid_node, _mermaid_edge)]) + "\n"


def _dot_node(step: PipelineStep) -> str:
    sized = ", sized" if step.sizing else ""
    return f'  "{step.name}" [label="{step.name}\\n({step.kind.name}{sized})"];'


def _dot_edge(src: str, dst: str, sized: bool) -> str:
    style = ' [style=dashed, label="sizes"]' if sized else ""
    return f'  "{src}" -> "{dst}"{style};'


def dot(pipeline: Pipeline) -> str:
    head = [f'digraph "{pipeline.name}" {{', "  rankdir=TB;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    return "\n".join([*head, *_drawing(pipeline, _dot_node, _dot_edge)]) + "\n}\n"


def svg(pipeline: Pipeline) -> str:
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
