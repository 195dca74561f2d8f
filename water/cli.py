"""The `water` command line: parse flags, call the library, print. Heavy modules load per command."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from water import __version__
from water.errors import WaterError

PATH_ARG = click.argument("path", required=False, metavar="[PATH]")


class _Group(click.Group):
    """Prints WaterErrors as their message alone (no traceback) and exits with their code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WaterError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="water")
def cli():
    """water: one declarative file per ML pipeline; run it here or on Kubernetes.

    PATH is a water.yaml or the folder holding one (default: ./water.yaml).
    """


def _load(path):
    from water import pipeline

    return pipeline.load(path)


def _git_commit(project_dir: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", project_dir, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cli.command()
@PATH_ARG
def validate(path):
    """Check a spec: a summary, or every problem with its line."""
    from water.schedule import describe

    p = _load(path)
    steps = len(p.steps)
    click.echo(f"OK {p.name}: {steps} step{'s' if steps != 1 else ''}, {describe(p.spec.schedule)}")


@cli.command()
@PATH_ARG
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Output format.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write one file per object to this folder.")
def render(path, fmt, out_dir):
    """Print or write the Kubernetes manifests."""
    from water import render as r

    p = _load(path)
    rendered = r.render(p, _git_commit(p.project_dir))
    for warning in rendered.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not out_dir:
        click.echo(r.to_yaml(rendered.objects) if fmt == "yaml" else r.to_json_list(rendered.objects), nl=False)
        return
    os.makedirs(out_dir, exist_ok=True)
    for obj in rendered.objects:
        target = os.path.join(out_dir, f"{r.file_name(obj)}.{fmt}")
        with open(target, "w", encoding="utf-8") as f:
            f.write(r.to_yaml([obj]) if fmt == "yaml" else r.to_json(obj) + "\n")
        click.echo(target)


@cli.command()
@PATH_ARG
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid",
              show_default=True, help="svg needs Graphviz's dot program.")
def graph(path, fmt):
    """Draw the steps and what they wait for."""
    from water.graph import FORMATS

    click.echo(FORMATS[fmt](_load(path)), nl=False)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="json", show_default=True,
              help="markdown: the field reference (docs/spec.md).")
def schema(fmt):
    """Print the JSON Schema of water.yaml."""
    from water.schema import markdown_reference, water_schema_json

    click.echo(water_schema_json() if fmt == "json" else markdown_reference(), nl=fmt == "markdown")


@cli.command()
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder to create the project in.")
def new(name, parent):
    """Create a new pipeline project that validates at once."""
    from water.scaffold import create

    target = create(name, parent)
    click.echo(f"Created {target}. Next: cd {target} && water run --local")


def _params(pairs) -> dict:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{pair}' is not NAME=VALUE", param_hint="--param")
        params[name] = value
    return params


@cli.command("run")
@PATH_ARG
@click.option("--local", "local", is_flag=True, required=True, help="Run on this machine (no cluster, no AWS).")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Override a run parameter.")
@click.option("--from", "from_step", metavar="STEP", help="Run STEP and what follows; reuse the rest of the latest run.")
@click.option("--only", metavar="STEP", help="Run STEP alone on the latest run's upstream outputs.")
@click.option("--jobs", type=click.IntRange(1, 256), help="Steps at once (default: the number of cores).")
def run_command(path, local, pairs, from_step, only, jobs):
    """Run the pipeline (--local: on this machine)."""
    from water.local import runner
    from water.local.progress import Progress

    if from_step and only:
        raise click.UsageError("--from and --only exclude each other")
    p = _load(path)
    progress = Progress([s.name for s in p.steps], sys.stderr, live=sys.stderr.isatty())
    try:
        result = runner.run(p, params=_params(pairs), jobs=jobs, from_step=from_step, only=only, report=progress)
    finally:
        progress.close()
    click.echo("\n".join(runner.summary(result)))
    sys.exit(0 if result.status == "succeeded" else 1)


@cli.command("runs")
@PATH_ARG
@click.option("--local", "local", is_flag=True, required=True, help="Runs kept on this machine.")
def runs_command(path, local):
    """List the pipeline's runs (--local: kept under .water/runs)."""
    from water.local import runner

    records = runner.past_runs(_load(path))
    click.echo(f"{'run':<40} {'status':<10} {'steps':>7} {'time':>8}  started")
    for r in records:
        done = sum(1 for s in r["steps"].values() if s["status"] in ("done", "reused"))
        click.echo(f"{r['run_id']:<40} {r['status']:<10} {done:>3}/{len(r['steps']):<3} {r['seconds']:>7.1f}s  "
                   f"{r['started']}")


def main():
    cli(prog_name="water")


if __name__ == "__main__":
    sys.exit(main())
