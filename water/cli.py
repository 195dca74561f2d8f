"""The `water` command line: parse flags, call the library, print. Heavy modules load per command."""
from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from water import __version__
from water.errors import BadParameter, WaterError

if TYPE_CHECKING:
    from datetime import datetime

def _pipeline_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """A NAME's completions: the pipelines deployed in the namespace (one list request), nothing when the cluster
    cannot be reached."""
    from click.shell_completion import CompletionItem

    try:
        from water import runs

        with ctx:  # the options given so far (and a caller's obj) are what _connect reads
            names = runs.pipeline_names(_connect(ctx.params.get("context"), ctx.params.get("namespace"),
                                                 ctx.params.get("kubeconfig")))
    except Exception:  # noqa: BLE001 - a completion that fails offers nothing rather than a traceback
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _paths_or_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """A PATH | NAME's completions: the shell's own file completion, then the deployed pipelines."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file"), *_pipeline_names(ctx, param, incomplete)]


PATH_ARG = click.argument("path", required=False, metavar="[PATH]", type=click.Path())
NAME_ARG = click.argument("name", shell_complete=_pipeline_names)


class _Aliased(click.Option):
    """An option whose older spellings still work but are not shown: one style (kubectl's `-o` for formats)."""

    def __init__(self, *args, old: tuple = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.old = old

    def get_help_record(self, ctx: click.Context):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.old]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def _output_option(choices: list, default: str, help_text: str = "Output format.", old: tuple = ()):
    return click.option("-o", "--output", *old, "fmt", cls=_Aliased, old=old, type=click.Choice(choices),
                        default=default, show_default=True, help=help_text)


class _Group(click.Group):
    """Prints WaterErrors as their message alone (no traceback) and exits with their code; so too a file that
    cannot be read or written (a folder that is not there, no permission, a full disk), as `cp` would say it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WaterError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            if exc.filename is None:  # not about a file (sockets have their own messages): a bug to show whole
                raise
            click.echo(f"{exc.filename}: {exc.strerror}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="water")
def cli() -> None:
    """water: one declarative file per ML pipeline; run it here or on Kubernetes.

    PATH is a water.yaml or the folder holding one (default: ./water.yaml).
    """


def _load(path: str | None, local_files: bool = False):
    """The pipeline at path; `local_files`: its spec.local.tables checked too (validate, local runs)."""
    from water import pipeline

    p = pipeline.load(path)
    if local_files:
        pipeline.check_local_files(p)
    return p


def _remember_env(ctx: click.Context, param: Any, value: str | None) -> None:
    ctx.meta["water_env"] = value


ENV = click.option("--env", metavar="NAME", expose_value=False, callback=_remember_env, help="An environment of the "
                   "spec's spec.environments: its context and namespace (and, for deploy, diff, render, its params and "
                   "image); -n and --context win.")


@cli.command()
@PATH_ARG
def validate(path: str | None) -> None:
    """Check a spec: a summary, or every problem with its line."""
    from water import render as r
    from water.schedule import describe

    p = _load(path, local_files=True)
    r.render(p).refuse_too_large()  # as deploy would meet it
    steps = len(p.steps)
    click.echo(f"OK {p.name}: {steps} step{'s' if steps != 1 else ''}, {describe(p.spec.schedule)}")


@cli.command()
@PATH_ARG
@_output_option(["yaml", "json"], "yaml")
@click.option("--dir", "--out", "out_dir", cls=_Aliased, old=("--out",), type=click.Path(file_okay=False),
              help="Write one file per object to this folder.")
@ENV
def render(path: str | None, fmt: str, out_dir: str | None) -> None:
    """Print or write the Kubernetes manifests."""
    from water import gitinfo, pipeline
    from water import render as r

    p = _load(path)
    env = _env()
    if env:
        pipeline.in_environment(p, env)
    git = gitinfo.describe(p.project_dir)
    rendered = r.render(p, git.get("commit"), git_branch=git.get("branch"))
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
@click.option("--account", help="The AWS account the ARNs name (default: the SageMaker role's).")
@click.option("--region", help="The region the ARNs name (default: spec.aws.region).")
@click.option("--trust", "oidc_provider", metavar="OIDC", help="Print instead the role's IRSA trust policy for the "
              "pipeline's ServiceAccount: OIDC is the cluster's OIDC provider ARN or issuer URL (`aws eks "
              "describe-cluster --query cluster.identity.oidc.issuer`).")
@click.option("-n", "--namespace", help="The namespace of the ServiceAccount (default: the spec's, else 'ml').")
@click.option("--events", is_flag=True, help="The role of the water-events ServiceAccount instead (spec.triggers: "
              "its EventSource reads the SQS queues).")
@click.option("--deployer", is_flag=True, help="The policy of whoever runs `water deploy` instead: what the deploy "
              "defines in AWS (Glue jobs and their scripts, with spec.aws.artifacts).")
def iam(path: str | None, account: str | None, region: str | None, oidc_provider: str | None,
        namespace: str | None, events: bool, deployer: bool) -> None:
    """The IAM policy the pipeline's step pods need.

    Least privilege, built from the spec: the resources it names, S3 prefixes up to their first expression; the
    notes on stderr say where a wildcard could not be avoided, and why."""
    import json

    from water import iam as iam_policy
    from water.contract import EVENTS_SERVICE_ACCOUNT

    if events and deployer:
        raise click.UsageError("--events and --deployer name different roles: give one")
    if deployer and oidc_provider:
        raise click.UsageError("--deployer is a person's or CI's role, not a ServiceAccount's: no --trust")
    pipeline = _load(path)
    make = iam_policy.events_policy if events else iam_policy.deployer_policy if deployer else iam_policy.policy
    document, notes = make(pipeline, account, region)
    if oidc_provider:
        found = iam_policy.ROLE_ACCOUNT.match((pipeline.spec.aws and pipeline.spec.aws.sagemaker_role) or "")
        owner = account or (found[1] if found else None)
        if owner is None and not oidc_provider.startswith("arn:"):
            raise click.UsageError("--trust with an issuer URL needs --account (or spec.aws.sagemakerRole)")
        document, notes = iam_policy.trust(oidc_provider, owner or "", namespace or pipeline.doc.metadata.namespace or "ml",
                                           EVENTS_SERVICE_ACCOUNT if events else pipeline.spec.service_account), []
    click.echo(json.dumps(document, indent=2))
    for note in notes:
        click.echo(f"note: {note}", err=True)


@cli.command()
@PATH_ARG
@_output_option(["mermaid", "dot", "svg"], "mermaid", "svg needs Graphviz's dot program.", old=("--format",))
def graph(path: str | None, fmt: str) -> None:
    """Draw the steps and what they wait for."""
    from water.graph import FORMATS

    click.echo(FORMATS[fmt](_load(path)), nl=False)


@cli.command()
@_output_option(["json", "markdown"], "json", "markdown: the field reference (docs/spec.md).", old=("--format",))
def schema(fmt: str) -> None:
    """Print the JSON Schema of water.yaml."""
    from water.schema import markdown_reference, water_schema_json

    click.echo(water_schema_json() if fmt == "json" else markdown_reference(), nl=fmt == "markdown")


@cli.command()
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder to create the project in.")
def new(name: str, parent: str) -> None:
    """Create a new pipeline project that validates at once."""
    from water.scaffold import create

    target = create(name, parent)
    click.echo(f"Created {target}. Next: cd {target} && water run --local")


def _params(pairs: tuple[str, ...]) -> dict:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BadParameter(f"--param '{pair}': expected NAME=VALUE")
        params[name] = value
    return params


CONTEXT = click.option("--context", help="The kubeconfig context to use.")
KUBECONFIG = click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Path to the kubeconfig file.")
YES_APPLY = click.option("-y", "--yes", is_flag=True, help="Do not ask before applying (never asked without a "
                         "terminal).")
FORCE_CONFLICTS = click.option("--force-conflicts", is_flag=True, help="Take fields another field manager changed "
                               "back for water.")


def _cluster_options(fn):
    """kubectl's flags for where to talk to, and the spec's environments."""
    for option in reversed([
        CONTEXT, click.option("-n", "--namespace", help="Namespace (default: the spec's, else the context's)."),
        KUBECONFIG, ENV,
    ]):
        fn = option(fn)
    return fn


def _env() -> str | None:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("water_env") if ctx else None


def _environment(env: str, spec: str | None, name: str | None) -> Any:
    """The spec's environment `env`: of the spec deployed (`spec`), else of the one in this folder."""
    from water import pipeline

    found = pipeline.load(spec) if spec or os.path.exists(pipeline.SPEC_FILE) else None
    if found is None or (spec is None and name is not None and found.name != name):
        raise click.UsageError(f"--env {env} needs the pipeline's water.yaml: run it in the project's folder")
    return pipeline.environment(found, env)


def _given(key: str, default):
    """What a program calling the CLI passes in through click's context object (`obj`): the retry policies
    (`kube_retries`, `datadog_retries`, `run_poll`), so that tests run without pauses, and `cluster`, a
    Target → water.cluster.Cluster factory (e.g. a MemoryCluster's). The command line passes nothing."""
    ctx = click.get_current_context(silent=True)
    return ((ctx and ctx.obj) or {}).get(key, default)


def _connect(context: str | None, namespace: str | None, kubeconfig: str | None, name: str | None = None, here=False,
             spec: str | None = None):
    """`name` (or `here`): a command about a pipeline takes the namespace of the spec in this folder when that spec
    is the pipeline, as `water deploy` does, unless -n says otherwise. With --env, the context and namespace of that
    environment of the spec (`spec`, a deploy's; else this folder's, when it is the pipeline)."""
    from water.kube import RETRIES, KubeCluster, Target

    env = _env()
    if env:
        settings = _environment(env, spec, name)
        context, namespace = context or settings.context, namespace or settings.namespace
    if namespace is None and (name or here):
        from water.pipeline import namespace_here

        namespace = namespace_here(name)
    target = Target(kubeconfig, context, namespace)
    made = _given("cluster", None)
    return made(target) if made else KubeCluster(target, retries=_given("kube_retries", RETRIES))


def _datadog():
    """How deploy, diff and delete connect to Datadog (when a pipeline keeps monitors)."""
    import functools

    from water import monitors

    return functools.partial(monitors.Datadog, retries=_given("datadog_retries", monitors.RETRIES))


OUTPUT = click.option("-o", "--output", "fmt", type=click.Choice(["table", "yaml", "json"]), default="table",
                      show_default=True, help="Output format.")
FULL_DIFF = click.option("--full", is_flag=True, help="Show a huge diff in full (by default: its first lines and "
                         "the counts).")
PARAMS = click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Override a run parameter.")


def _print_diff(text: str, err: bool = False, full: bool = True) -> None:
    """A diff in colour; unless `full`, a huge one summarized (its first lines and the counts)."""
    from water import review

    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in (text if full else review.summarized(text)).splitlines():
        click.echo(click.style(line, fg=colours.get(line[:1])) if not line.startswith(("+++", "---")) else
                   click.style(line, bold=True), err=err)


def _console(yes: bool, err: bool = False, full: bool = True):
    """Progress and diffs on stdout (stderr when stdout carries the objects), in colour; a question before
    applying only on a terminal and without --yes."""
    from water.console import Console

    ask = None if yes or not sys.stdin.isatty() else (
        lambda count, namespace: click.confirm(f"Apply {count} change(s) to namespace '{namespace}'?", err=err))
    return Console(echo=lambda line: click.echo(line, err=err),
                   show_diff=lambda text: _print_diff(text, err=err, full=full),
                   confirm=ask)


@cli.command("run")
@click.argument("target", required=False, metavar="[PATH | NAME]", shell_complete=_paths_or_names)
@click.option("--local", "local", is_flag=True, help="Run PATH on this machine (no cluster, no AWS).")
@PARAMS
@click.option("--from", "from_step", metavar="STEP", help="--local: run STEP and what follows; reuse the rest.")
@click.option("--only", metavar="STEP", help="--local: run STEP alone on the latest run's upstream outputs.")
@click.option("--jobs", type=click.IntRange(1, 256), help="--local: steps at once (default: the cores).")
@click.option("--date", type=click.DateTime(["%Y-%m-%d"]), help="The day the run stands for ({{run.date}}; "
              "default: today in schedule.timezone), e.g. to redo a past day.")
@click.option("--event", metavar="s3://BUCKET/KEY", help="--local: run as spec.triggers would for this object (in "
              "the local data root): its params from the event.")
@click.option("--wait", is_flag=True, help="Cluster: wait for the run to end; exit 0 if it succeeded, else 1.")
@click.option("-f", "--follow", is_flag=True, help="Cluster: stream the steps' logs until the run ends.")
@_cluster_options
def run_command(target: str | None, local: bool, pairs: tuple[str, ...], from_step: str | None, only: str | None,
                jobs: int | None, date: datetime | None, event: str | None, wait: bool, follow: bool,
                context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
    """Run a pipeline: --local PATH here, or NAME on the cluster."""
    day = f"{date:%Y-%m-%d}" if date else None
    if local:
        if wait or follow:
            raise click.UsageError("--wait and --follow are for cluster runs, not --local")
        _run_local(target, _params(pairs), from_step, only, jobs, day, event)
        return
    if from_step or only or jobs or event:
        raise click.UsageError("--from, --only, --jobs and --event need --local")
    if not target:
        raise click.UsageError("name the deployed pipeline to run (or --local PATH)")
    if os.path.exists(target):  # a pipeline's name is a DNS label: a path is meant to run here
        raise click.UsageError(f"'{target}' is a {'folder' if os.path.isdir(target) else 'file'}: to run it on this "
                               f"machine add --local (water run --local {target}); on the cluster, name the "
                               "deployed pipeline")
    from water import runs

    cluster = _connect(context, namespace, kubeconfig, target)
    run = runs.start(cluster, target, _params(pairs), day)
    click.echo(f"{run['kind'].lower()}/{run['metadata']['name']} created")
    if wait or follow:
        _wait_for(cluster, run, follow)


def _wait_for(cluster: Any, run: dict, follow: bool) -> None:
    """--wait/-f: until the run ends (its logs streamed with -f); exit 0 if it succeeded, else 1."""
    from water import runs

    ended = runs.wait(cluster, run, follow=follow, echo=click.echo, progress=lambda line: click.echo(line, err=True),
                      every=_given("run_poll", runs.POLL))
    sys.exit(0 if ended == "Succeeded" else 1)


def _run_local(path: str | None, params: dict, from_step: str | None, only: str | None, jobs: int | None,
               date: str | None, event: str | None = None) -> None:
    if from_step and only:
        raise click.UsageError("--from and --only exclude each other")
    p = _load(path, local_files=True)
    if event:
        from water import events

        params = {**events.local_params(p, event), **params}  # a --param given as well wins
    _run_local_record(p, None, jobs, params=params, from_step=from_step, only=only, date=date)


def _run_local_record(p: Any, retrying: dict | None, jobs: int | None, **options: Any) -> None:
    """A local run with progress on stderr, its summary, and its outcome as the exit code."""
    from water.local import runner
    from water.local.progress import Progress

    progress = Progress([s.name for s in p.steps], sys.stderr, live=sys.stderr.isatty())
    try:
        result = runner.run(p, jobs=jobs, report=progress, retrying=retrying, **options)
    finally:
        progress.close()
    click.echo("\n".join(runner.summary(result)))
    sys.exit({"succeeded": 0, "interrupted": 130}.get(result.status, 1))  # 130: a shell's code for Ctrl-C


@cli.command()
@PATH_ARG
@PARAMS
@click.option("--dry-run", is_flag=True, help="Show the diff and let the server dry-run it; change nothing.")
@FULL_DIFF
@YES_APPLY
@FORCE_CONFLICTS
@_cluster_options
def deploy(path: str | None, pairs: tuple[str, ...], dry_run: bool, full: bool, yes: bool, force_conflicts: bool,
           context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
    """Diff and apply the pipeline to the cluster."""
    from water import deploy as d

    bundle = d.bundle_from_path(path, _params(pairs), env=_env())
    d.deploy(_connect(context, namespace, kubeconfig, spec=path or "."), bundle, namespace, dry_run=dry_run,
             force=force_conflicts, console=_console(yes, full=full), datadog=_datadog())


@cli.command()
@PATH_ARG
@PARAMS
@FULL_DIFF
@_cluster_options
def diff(path: str | None, pairs: tuple[str, ...], full: bool, context: str | None, namespace: str | None,
         kubeconfig: str | None) -> None:
    """Show what deploy would change (exit 1 if anything)."""
    from water import deploy as d

    bundle = d.bundle_from_path(path, _params(pairs), env=_env())
    cluster = _connect(context, namespace, kubeconfig, spec=path or ".")
    plan = d.plan(cluster, bundle, d.namespace_for(cluster, bundle, namespace))
    others = d.aws_plan(bundle) + d.monitor_plan(bundle, plan.latest, _datadog())[1]
    for change in plan.changes:
        _print_diff(change.diff, full=full) if change.diff else click.echo(f"{change.ref} {change.action}")
    for change in others:
        _print_diff(change.diff, full=full) if change.diff else click.echo(str(change))
    sys.exit(1 if plan.pending or any(c.action != "unchanged" for c in others) else 0)


@cli.command()
@NAME_ARG
@FULL_DIFF
@_cluster_options
def edit(name: str, full: bool, context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
    """Edit the live spec, then deploy it.

    The spec opens in $VISUAL (else $EDITOR, else vi), and again with its problems on top until it is valid."""
    from water.edit import edit as edit_live

    cluster = _connect(context, namespace, kubeconfig, name)
    edit_live(cluster, name, cluster.namespace, console=_console(yes=True, full=full), datadog=_datadog())


@cli.command()
@NAME_ARG
@OUTPUT
@click.option("--diff", "between", type=int, nargs=2, metavar="N M", help="What changed from revision N to M: the "
              "spec, its files, and each object with the steps' configs decoded.")
@_cluster_options
def history(name: str, fmt: str, between: tuple[int, int] | None, context: str | None, namespace: str | None,
            kubeconfig: str | None) -> None:
    """List the pipeline's revisions (the last 10 are kept)."""
    from water import review
    from water.revisions import ConfigMapStore, pick

    cluster = _connect(context, namespace, kubeconfig, name)
    kept = ConfigMapStore(cluster, cluster.namespace).list(name)
    if between:
        older, newer = (pick(kept, name, cluster.namespace, n) for n in between)
        _print_diff(review.between_revisions(older, newer) or f"revisions {between[0]} and {between[1]} are the same\n")
        return
    found = [r.summary() for r in kept]
    if not found:
        raise WaterError(f"pipeline '{name}' has no revisions in namespace '{cluster.namespace}'")
    _print_data(found, fmt, [("REVISION", "number"), ("TIME", "time"), ("USER", "user"), ("GIT", "git-commit"),
                             ("DIRTY", "git-dirty"), ("HASH", "hash"), ("NOTE", "note")])


@cli.command()
@NAME_ARG
@click.option("--to", "number", type=int, help="Revision to go back to (default: the one before the latest).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before applying.")
@_cluster_options
def rollback(name: str, number: int | None, yes: bool, context: str | None, namespace: str | None,
             kubeconfig: str | None) -> None:
    """Re-apply an earlier revision as a new one."""
    from water import deploy as d
    from water.revisions import ConfigMapStore

    cluster = _connect(context, namespace, kubeconfig, name)
    bundle = d.rollback_bundle(ConfigMapStore(cluster, cluster.namespace), name, cluster.namespace, number)
    d.deploy(cluster, bundle, namespace, console=_console(yes), datadog=_datadog())


@cli.command()
@click.argument("name", required=False, shell_complete=_pipeline_names)
@OUTPUT
@_cluster_options
def status(name: str, fmt: str, context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
    """Pipelines here, or one pipeline's runs and steps."""
    from water import runs

    cluster = _connect(context, namespace, kubeconfig, name, here=True)
    if name is None:
        rows = runs.summaries(cluster)
        _print_data(rows, fmt, [("NAME", "name"), ("SCHEDULE", "schedule"), ("TIMEZONE", "timezone"),
                                ("SUSPENDED", "suspended"), ("LAST RUN", "lastRun"), ("PHASE", "phase"),
                                ("STARTED", "started"), ("NEXT RUN", "nextRun")])
        return
    found = runs.detail(cluster, name)
    if fmt != "table":
        _print_data(found, fmt, [])
        return
    _print_data([found], fmt, [("NAME", "name"), ("SCHEDULE", "schedule"), ("TIMEZONE", "timezone"),
                               ("SUSPENDED", "suspended"), ("NEXT RUN", "nextRun")])
    click.echo()
    _print_data(found["runs"], fmt, [("RUN", "name"), ("PHASE", "phase"), ("STARTED", "started"),
                                     ("DURATION", "duration"), ("COST", "cost")])
    if found["steps"]:
        click.echo(f"\nsteps of {found['runs'][0]['name']}:")
        _print_data(found["steps"], fmt, [("STEP", "step"), ("PHASE", "phase"), ("DURATION", "duration"),
                                          ("COST", "cost"), ("MESSAGE", "reason")])


@cli.command()
@NAME_ARG
@click.argument("run", required=False)
@click.option("--step", help="Only this step's log.")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming until the run ends.")
@_cluster_options
def logs(name: str, run: str | None, step: str | None, follow: bool, context: str | None, namespace: str | None,
         kubeconfig: str | None) -> None:
    """Step logs of a run (default: the latest one)."""
    from water import runs

    cluster = _connect(context, namespace, kubeconfig, name)
    found = runs.get_run(cluster, name, run)
    if follow:
        runs.wait(cluster, found, follow=True, step=step, echo=click.echo, progress=lambda line: None)
    elif not runs.print_logs(cluster, found, step, echo=click.echo):
        raise WaterError(f"no started pods{' for step ' + step if step else ''} in run "
                                   f"{found['metadata']['name']}")


def _schedule_switch(command: str, suspended: bool, done: str, help_text: str) -> None:
    """`water suspend` and `water resume`: the same patch of spec.suspend, either way."""

    @cli.command(command, help=help_text)
    @NAME_ARG
    @_cluster_options
    def switch(name: str, context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
        from water import runs

        kind = runs.set_suspended(_connect(context, namespace, kubeconfig, name), name, suspended)
        click.echo(f"{kind.lower()}/{name} {done}")


_schedule_switch("suspend", True, "suspended", "Stop the pipeline's schedule from starting runs.")
_schedule_switch("resume", False, "resumed", "Let the pipeline's schedule start runs again.")


@cli.command()
@NAME_ARG
@click.option("-y", "--yes", is_flag=True, help="Do not ask (required without a terminal); deletes the endpoints "
              "the pipeline made too, unless --keep-endpoint.")
@click.option("--keep-endpoint", is_flag=True, help="Leave the SageMaker endpoints the pipeline's endpoint steps "
              "made serving (default: ask about each).")
@_cluster_options
def delete(name: str, yes: bool, keep_endpoint: bool, context: str | None, namespace: str | None,
           kubeconfig: str | None) -> None:
    """Remove a pipeline: its definition, schedule, runs and revisions.

    Its Datadog monitors go too, the Glue jobs its deploys defined, and (asked about each) the SageMaker endpoints
    it made."""
    from water import delete as deleting
    from water.runtime import aws

    cluster = _connect(context, namespace, kubeconfig, name)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("deleting needs --yes when there is no terminal to ask on")
        click.confirm(f"Delete pipeline '{name}' and its runs and revisions from namespace "
                      f"'{cluster.namespace}'?", abort=True)
    lasting = _asking_aws(f"cannot look for what pipeline '{name}' made in AWS", lambda: deleting.lasting(
        cluster, name, cluster.namespace, aws.client))
    # what it made in AWS first: while the pipeline's revision is there, a delete that failed half-way finds it again
    for item in lasting:
        if item.asks and (keep_endpoint or not (yes or click.confirm(f"Delete {item.what} too? {item.asks}"))):
            continue
        _asking_aws(f"cannot delete {item.what}", item.remove)
        click.echo(f"{item.what} deleted")
    deleting.delete(cluster, name, cluster.namespace, echo=click.echo, datadog=_datadog())


@cli.command()
@click.option("-n", "--namespace", default="ml", show_default=True, help="Namespace of the add-ons (created if "
              "missing).")
@click.option("--slack-secret", default="slack-webhook", show_default=True, help="Secret holding the Slack webhook "
              "URL (key `url`) for kubewatch.")
@click.option("--slack-webhook-file", type=click.File("r"), help="Create that Secret from the URL in this file "
              "('-': stdin); never from a flag.")
@click.option("--aws-role-arn", help="IAM role of the water-runner ServiceAccount (IRSA).")
@click.option("--argo-url", help="Argo UI that failure messages link to (a pipeline's alerts.links wins).")
@click.option("--datadog-url", help="Datadog that failure messages link to, e.g. https://app.datadoghq.com.")
@click.option("--events", is_flag=True, help="Also what spec.triggers need: the water-events ServiceAccount and "
              "its Role (create Workflows), for the Argo Events pods.")
@click.option("--events-role-arn", help="--events: IAM role of water-events (IRSA), which reads the SQS queues "
              "(`water iam --events`).")
@click.option("--dry-run", is_flag=True, help="Diff and let the server dry-run; with -o yaml, print the objects "
              "without a cluster.")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml"]), help="Print the objects (Secret values "
              "redacted).")
@YES_APPLY
@FORCE_CONFLICTS
@CONTEXT
@KUBECONFIG
def install(namespace: str, slack_secret: str, slack_webhook_file: TextIO | None, aws_role_arn: str | None,
            argo_url: str | None, datadog_url: str | None, events: bool, events_role_arn: str | None, dry_run: bool,
            fmt: str | None, yes: bool, force_conflicts: bool, context: str | None, kubeconfig: str | None) -> None:
    """Set up the cluster add-ons: namespace, RBAC, kubewatch → Slack."""
    from water import install as i
    from water.render import to_yaml

    settings = i.Settings(namespace, slack_secret, aws_role_arn,
                          slack_webhook_file.read() if slack_webhook_file else None, argo_url, datadog_url, events,
                          events_role_arn)
    if dry_run and fmt:  # like kubectl's --dry-run=client: no cluster needed
        objects = i.render(settings)
    else:
        # with -o yaml, stdout is the objects alone: progress and diffs go to stderr
        objects = i.install(_connect(context, namespace, kubeconfig), settings, dry_run=dry_run,
                            force=force_conflicts, console=_console(yes, err=bool(fmt)))
    if fmt:
        click.echo(to_yaml(i.redacted(objects)), nl=False)
        if settings.slack_webhook is not None:
            click.echo(f"water: the value of Secret '{slack_secret}' is printed as {i.REDACTED}", err=True)


def _print_data(rows, fmt: str, columns: list) -> None:
    import json

    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
    elif fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(rows, sort_keys=True), nl=False)
    else:
        table = [[h for h, _ in columns]] + [[_cell(r.get(k)) for _, k in columns] for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
        for row in table:
            click.echo("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}s"
    return str(value)


@cli.command()
@click.argument("group", required=False)
@click.option("--local", "local", default=None, is_flag=False, flag_value=".", metavar="[PATH]",
              help="The registry of the project at PATH (default: here), under .water/models.")
@click.option("--region", help="AWS region of SageMaker's registry (default: the AWS SDK's).")
@OUTPUT
def models(group: str | None, local: str | None, region: str | None, fmt: str) -> None:
    """A model group's versions and what serves them.

    Each version's metrics, lineage and last promotion, and the endpoints serving it."""
    from water.steps import endpoint as endpoints

    if local is not None:
        rows = endpoints.local_versions_served(local, group)
    elif not group:
        raise click.UsageError("name the model group (or --local for this project's registry)")
    else:
        from water.runtime import aws

        rows = _asking_aws(f"cannot list the versions of model group '{group}'", lambda: endpoints.versions_served(
            aws.client("sagemaker", region), group))
    _print_data(rows, fmt, [("GROUP", "group"), ("VERSION", "version"), ("LIVE", "live"), ("SERVES", "serves"),
                            ("CREATED", "created"), ("APPROVAL", "approval"), ("METRICS", "metrics"), ("RUN", "run"),
                            ("COMMIT", "commit"), ("PROMOTED", "promoted")])


@cli.command()
@click.argument("group", required=False)
@click.option("--version", "version", type=click.IntRange(1), required=True, help="The version to serve.")
@click.option("--endpoint", help="The endpoint to serve it on (default: every endpoint serving a version of the "
              "group).")
@click.option("--local", "local", default=None, is_flag=False, flag_value=".", metavar="[PATH]",
              help="The registry and endpoints of the project at PATH (default: here), under .water/.")
@click.option("--region", help="AWS region of SageMaker (default: the AWS SDK's).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the endpoints serve it.")
@click.option("--timeout", type=click.IntRange(60), default=7200, show_default=True, help="Seconds to wait.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before updating the endpoints (never asked without a "
              "terminal: then --yes is needed).")
def promote(group: str | None, version: int, endpoint: str | None, local: str | None, region: str | None,
            wait: bool, timeout: int, yes: bool) -> None:
    """Approve a model version and serve it.

    An older version is the model rollback."""
    import getpass

    from water.steps import endpoint as endpoints
    from water.steps import registry

    if local is not None:
        done = endpoints.promote_local(local, group, version, getpass.getuser(), endpoint)
        was = f"version {done['from']}" if done["from"] else "none"
        click.echo(f"{done['group']}: version {done['to']} is live (was {was})"
                   + "".join(f"; endpoint {e} serves it" for e in done["endpoints"]) + "; recorded in "
                   + os.path.join(local, ".water", "models", done["group"], registry.PROMOTIONS))
        return
    if not group:
        raise click.UsageError("name the model group (or --local for this project's registry)")
    from water.runtime import aws, poll

    sagemaker = aws.client("sagemaker", region)
    plan = _asking_aws(f"cannot promote version {version} of model group '{group}'",
                       lambda: endpoints.plan_promotion(sagemaker, group, version, endpoint))
    for step in plan:
        click.echo(step.line())
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("promoting needs --yes when there is no terminal to ask on")
        click.confirm(f"Update {len(plan)} endpoint(s)?", abort=True)
    sleep = _given("sleep", None)
    waiting = (lambda check: poll.wait(check, timeout=timeout, interval=poll.job_interval, transient=aws.transient,
                                       **({"sleep": sleep} if sleep else {}))) if wait else (lambda check: None)
    _asking_aws(f"cannot promote version {version} of model group '{group}'", lambda: endpoints.promote(
        sagemaker, plan, getpass.getuser(), registry.now(), waiting, click.echo))
    if not wait:
        click.echo("asked; `water models " + group + "` shows when it serves")


def _asking_aws(what: str, call):
    """call()'s answer; what AWS refused, in one line after `what`."""
    from water.runtime import aws

    return aws.asking(what, call)


@cli.command()
@click.option("--local", "local", default=None, is_flag=False, flag_value=".", metavar="[PATH]", required=True,
              help="Serve from the registry of the project at PATH (default: here).")
@click.option("--endpoint", help="What this local endpoint serves (under .water/endpoints; made by an endpoint "
              "step's local run).")
@click.option("--group", help="The model group (default: the registry's only one).")
@click.option("--version", "version", type=click.IntRange(1), help="The version (default: the live one, else the "
              "newest Approved).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
def serve(local: str, endpoint: str | None, group: str | None, version: int | None, host: str, port: int) -> None:
    """Serve a model version over HTTP.

    As SageMaker's inference containers do: GET /ping, POST /invocations."""
    from water.steps import endpoint as endpoints

    what, script, model_dir = endpoints.local_model(local, endpoint, group, version)
    click.echo(what)
    sys.stdout.flush()
    # the server takes this process's place: Ctrl-C and kill reach it, nothing is left running behind
    os.execv(sys.executable, [sys.executable, "-m", "water.local.inference", "--serve", script, model_dir, host,
                              str(port)])


@cli.command()
@click.argument("target", required=False, metavar="[PATH | NAME]", shell_complete=_paths_or_names)
@click.argument("run_name", required=False, metavar="[RUN]")
@click.option("--local", "local", is_flag=True, help="Retry a run of the pipeline at PATH kept on this machine.")
@click.option("--jobs", type=click.IntRange(1, 256), help="--local: steps at once (default: the cores).")
@click.option("--wait", is_flag=True, help="Cluster: wait for the retry to end; exit 0 if it succeeded, else 1.")
@click.option("-f", "--follow", is_flag=True, help="Cluster: stream the steps' logs until the retry ends.")
@_cluster_options
def retry(target: str | None, run_name: str | None, local: bool, jobs: int | None, wait: bool, follow: bool,
          context: str | None, namespace: str | None, kubeconfig: str | None) -> None:
    """Run the failed part of a run again.

    A new run with the same parameters and date as RUN (default: the latest failed one): the steps that succeeded
    in it are not run again, their recorded outputs go to the steps that read them; the failed ones and what
    follows them run."""
    if local:
        if wait or follow:
            raise click.UsageError("--wait and --follow are for cluster runs, not --local")
        from water.local import runner

        p = _load(target, local_files=True)
        _run_local_record(p, runner.failed_run(p, run_name), jobs)
        return
    if jobs:
        raise click.UsageError("--jobs needs --local")
    if not target:
        raise click.UsageError("name the deployed pipeline to retry (or --local PATH)")
    from water import retry as retrying

    cluster = _connect(context, namespace, kubeconfig, target)
    failed, run, reused = retrying.start(cluster, target, run_name)
    click.echo(f"workflow/{run['metadata']['name']} created: retries {failed['metadata']['name']}"
               + (f", reusing {', '.join(reused)}" if reused else ", every step again"))
    if wait or follow:
        _wait_for(cluster, run | {"kind": "Workflow"}, follow)


@cli.command()
@click.argument("target", required=False, metavar="[PATH | NAME]", shell_complete=_paths_or_names)
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day (in the "
              "schedule's time zone).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day, included.")
@click.option("--local", "local", is_flag=True, help="Run the days here, one after the other (PATH).")
@PARAMS
@click.option("--parallel", type=click.IntRange(1, 100), metavar="N", help="Cluster: at most N of the backfill's "
              "runs at once (water waits for one to end before starting the next); default: all at once.")
@click.option("--dry-run", is_flag=True, help="List the ticks and what each would do; start nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before starting the runs (never asked without a "
              "terminal).")
@_cluster_options
def backfill(target: str | None, first: datetime, last: datetime, local: bool, pairs: tuple[str, ...],
             parallel: int | None, dry_run: bool, yes: bool, context: str | None, namespace: str | None,
             kubeconfig: str | None) -> None:
    """Run the days a schedule missed.

    One run per tick of the schedule from --from to --to, each standing for its tick ({{run.date}} its date) and
    named after it: running the same backfill again starts none twice, and ticks the schedule already ran are
    left alone."""
    if local:
        _backfill_local(target, first.date(), last.date(), _params(pairs), dry_run, parallel)
        return
    if not target:
        raise click.UsageError("name the deployed pipeline to backfill (or --local PATH)")
    from water import backfill as backfilling, runs

    cluster = _connect(context, namespace, kubeconfig, target)
    ticks = backfilling.plan(cluster, target, first.date(), last.date())
    todo = [t for t in ticks if not t.ran]
    if dry_run or not todo:
        for tick in ticks:
            click.echo(f"{tick.at.isoformat()}  {f'{tick.ran} exists' if tick.ran else f'workflow/{tick.name} would be created'}")
        click.echo(f"{len(todo)} of {len(ticks)} tick(s) to run" + (" (dry run)" if dry_run and todo else ""))
        return
    if not yes and sys.stdin.isatty() and not click.confirm(
            f"Start {len(todo)} run(s) of {target} in namespace '{cluster.namespace}'?"):
        raise click.Abort()
    created = backfilling.start(cluster, target, ticks, _params(pairs), parallel=parallel, echo=click.echo,
                                every=_given("run_poll", runs.POLL))
    click.echo(f"{created} run(s) started, {len(ticks) - created} already there")


def _backfill_local(path: str | None, first: Any, last: Any, params: dict, dry_run: bool,
                    parallel: int | None) -> None:
    from water.local import runner

    if parallel:
        raise click.UsageError("--parallel is for cluster backfills: --local runs the days one after the other")
    p = _load(path, local_files=True)
    days = runner.backfill_days(p, first, last)
    failed = 0
    for day, done in days:
        if done or dry_run:
            click.echo(f"{day}  {f'{done} succeeded' if done else 'would run'}")
            continue
        result = runner.run(p, params=params, date=day)
        click.echo(f"{day}  {result.run_id} {result.status}")
        failed += result.status != "succeeded"
    sys.exit(1 if failed else 0)


@cli.group()
def events() -> None:
    """AWS's side of spec.triggers."""


@events.command("setup")
@PATH_ARG
@click.option("--dry-run", is_flag=True, help="Print each trigger's bucket notification and queue policy statement "
              "(JSON); change nothing.")
def events_setup(path: str | None, dry_run: bool) -> None:
    """Make each trigger's bucket notify its SQS queue.

    The queue's policy gets a statement letting the bucket send (S3 sends a test message when the notification is
    put), the bucket a QueueConfiguration for new objects under the prefix with the suffix; what else is there
    stays. With your AWS credentials (the standard chain), not the pods'."""
    import json

    from water import eventsetup
    from water.runtime import aws

    pipeline = _load(path)
    if not pipeline.spec.triggers:
        raise WaterError(f"{pipeline.file}: the pipeline has no spec.triggers")
    setups = _asking_aws("cannot read the queues", lambda: eventsetup.plans(pipeline, eventsetup.queues(aws.client)))
    for setup in setups:
        if dry_run:
            click.echo(json.dumps({"bucket": setup.bucket, "queueConfiguration": setup.notification,
                                   "queuePolicyStatement": setup.statement}, indent=2))
        else:
            _asking_aws(f"cannot set up s3://{setup.bucket} → {setup.queue}",
                        lambda setup=setup: eventsetup.apply(setup, aws.client, click.echo))


@cli.command("runs")
@click.argument("target", required=False, metavar="[PATH | NAME]", shell_complete=_paths_or_names)
@click.option("--local", "local", is_flag=True, help="Runs of the pipeline at PATH kept on this machine.")
@OUTPUT
@_cluster_options
def runs_command(target: str | None, local: bool, fmt: str, context: str | None, namespace: str | None,
                 kubeconfig: str | None) -> None:
    """A pipeline's runs: NAME's on the cluster, or --local PATH's."""
    if local:
        from water.local import runner

        rows = [{"name": r["run_id"], "phase": r["status"], "started": r["started"], "duration": r["seconds"],
                 "steps": f"{sum(1 for s in r['steps'].values() if s['status'] in ('done', 'reused'))}/"
                          f"{len(r['steps'])}"} for r in runner.past_runs(_load(target))]
    else:
        if not target:
            raise click.UsageError("name the deployed pipeline (or --local PATH)")
        from water import runs

        rows = runs.listing(_connect(context, namespace, kubeconfig, target), target)
    _print_data(rows, fmt, [("RUN", "name"), ("PHASE", "phase"), ("STEPS", "steps"), ("STARTED", "started"),
                            ("DURATION", "duration")])


@cli.command()
@click.argument("target", required=False, metavar="[PATH | NAME]", shell_complete=_paths_or_names)
@click.argument("run", required=False)
@click.option("--local", "local", is_flag=True, help="The runs of the pipeline at PATH kept on this machine.")
@click.option("--model", metavar="GROUP:VERSION", help="What made this model version: its run's steps from the "
              "data it was trained on, the commit, and where it serves.")
@click.option("--object", "obj", metavar="s3://BUCKET/KEY", help="The runs and steps that read this object (or "
              "anything under this prefix).")
@click.option("--region", help="AWS region of SageMaker and of the lineage records (default: spec.aws.region).")
@OUTPUT
@_cluster_options
def lineage(target: str | None, run: str | None, local: bool, model: str | None, obj: str | None,
            region: str | None, fmt: str, context: str | None, namespace: str | None,
            kubeconfig: str | None) -> None:
    """What runs read and made: data → model → endpoint.

    The chain data → steps → model version → endpoint, from what each step recorded. A run's objects read (with
    ETags) and outputs, the latest run by default; or, with --model, what made a version and where it serves; or,
    with --object, which runs read an object. Recorded in S3 under spec.aws.artifacts on a cluster, in run.json
    locally.

    \b
    Examples:
      water lineage babyweight
      water lineage babyweight --model babyweight:3
      water lineage babyweight --object s3://ml-bucket/babyweight/raw/2026-12-01.csv -o json
      water lineage --local pipelines/demo --model water-demo:1"""
    from water import lineage as lin
    from water.steps import endpoint as endpoints

    if model and obj:
        raise click.UsageError("--model and --object ask different questions: give one")
    group, _, number = (model or "").rpartition(":")
    if model and (not group or not number.isdigit()):
        raise click.BadParameter(f"'{model}' is not GROUP:VERSION", param_hint="--model")
    versions = None  # the model group's versions as `water models` lists them, when --model asks
    if local:
        project = _load(target)
        name, runs = project.name, lin.local_runs(project)
        if model:
            versions = endpoints.local_versions_served(project.project_dir, group)
    else:
        if model and not target:  # the version's own metadata names the pipeline it came from
            versions = _model_versions(group, region)
            target = _pipeline_of(versions, group, int(number))
        if not target:
            raise click.UsageError("name the deployed pipeline (or --local PATH)")
        name = target
        runs, region = _cluster_lineage(  # a run's lineage reads that run's records alone
            _connect(context, namespace, kubeconfig, target), target, region,
            (lambda s3, artifacts: lin.cluster_runs(s3, artifacts, target)) if model or obj else
            (lambda s3, artifacts: [lin.cluster_run(s3, artifacts, target, run)]))
        if model and versions is None:
            versions = _model_versions(group, region)
    if model:
        found, chain = lin.model_origin(runs, group, int(number))
        serves = _served_by(versions or [], int(number))
        if fmt == "table":
            click.echo(f"version {number} of {group}: made by {lin.header(found)}; serves on: "
                       f"{', '.join(serves) or 'no endpoint'}")
        _lineage_out(lin.rows(found, chain), fmt, {**lin.as_data(found, chain), "model": model, "serves": serves})
    elif obj:
        found_rows = lin.readers(runs, obj)
        if not found_rows and fmt == "table":
            click.echo(f"no recorded run of {name} read {obj}")
        _lineage_out(found_rows, fmt, found_rows)
    else:
        chosen = lin.pick_run(runs, name, run)
        if fmt == "table":
            click.echo(lin.header(chosen))
        _lineage_out(lin.rows(chosen), fmt, lin.as_data(chosen))


@cli.command()
@NAME_ARG
@click.option("--since", default="30d", show_default=True, metavar="DURATION",
              help="How far back: a number of days (30d) or hours (12h).")
@click.option("--region", help="AWS region of the lineage records (default: spec.aws.region).")
@OUTPUT
@_cluster_options
def cost(name: str, since: str, region: str | None, fmt: str, context: str | None, namespace: str | None,
         kubeconfig: str | None) -> None:
    """What the pipeline's runs cost on AWS.

    Per run and per step.

    From the cost each step's pod priced from its AWS job (Athena's bytes scanned, Glue's DPU time, SageMaker's
    billable seconds) and recorded under spec.aws.artifacts.

    \b
    Examples:
      water cost babyweight
      water cost babyweight --since 7d -o json"""
    import re
    from datetime import datetime, timedelta, timezone

    from water import lineage as lin
    from water.argonodes import usd_text

    found = re.fullmatch(r"(\d+)([dh])", since)
    if not found:
        raise click.BadParameter(f"'{since}' is not a number of days or hours (30d, 12h)", param_hint="--since")
    back = datetime.now(timezone.utc) - timedelta(**{"days" if found[2] == "d" else "hours": int(found[1])})
    start = back.strftime("%Y-%m-%dT%H:%M:%SZ")
    # records are written as their steps end: one older than `back` belongs to an older run
    runs, _ = _cluster_lineage(_connect(context, namespace, kubeconfig, name), name, region,
                               lambda s3, artifacts: lin.cluster_runs(s3, artifacts, name, back))
    summary = lin.costs(runs, start)
    if fmt != "table":
        _print_data(summary, fmt, [])
        return
    _print_data([{**r, "usd": usd_text(r["usd"])} for r in summary["runs"]], fmt, [("RUN", "run"),
                                                                                    ("STARTED", "started"),
                                                                                    ("COST", "usd")])
    click.echo()
    _print_data([{"step": s, "usd": usd_text(v)} for s, v in summary["steps"].items()], fmt,
                [("STEP", "step"), ("COST", "usd")])
    unpriced = (f"; {summary['unpriced']} step runs could not be priced (an instance type or region water's price "
                "table lacks: spec.aws.prices)") if summary["unpriced"] else ""
    click.echo(f"\n{usd_text(summary['usd'])} over {len(summary['runs'])} runs since {start}{unpriced}")


def _model_versions(group: str, region: str | None) -> list:
    """The group's versions in SageMaker's registry with the endpoints serving each, as `water models` lists them."""
    from water.runtime import aws
    from water.steps import endpoint as endpoints

    return _asking_aws(f"cannot list the versions of model group '{group}'", lambda: endpoints.versions_served(
        aws.client("sagemaker", region), group))


def _served_by(versions: list, number: int) -> list:
    """The endpoints serving version `number`, from `water models` rows (SERVES: names joined by ', ')."""
    return next((r["serves"].split(", ") for r in versions if r["version"] == number and r["serves"]), [])


def _pipeline_of(versions: list, group: str, number: int) -> str:
    """The pipeline that registered version `number`, as its metadata says."""
    found = [r for r in versions if r["version"] == number]
    if not found or not found[0]["pipeline"]:
        raise WaterError(f"version {number} of model group '{group}' names no pipeline water registered it from: "
                         "name the pipeline (water lineage NAME --model GROUP:VERSION)")
    return found[0]["pipeline"]


def _lineage_out(rows: list, fmt: str, data) -> None:
    if fmt == "table":
        _print_data(rows, fmt, [("RUN", "run"), ("STEP", "step"), ("KIND", "kind"), ("", "io"), ("WHAT", "what"),
                                ("ETAG", "etag")])
    else:
        _print_data(data, fmt, [])


def _cluster_lineage(cluster, name: str, region: str | None, read: Callable[[Any, str], list]) -> tuple:
    """(the pipeline's recorded runs that read(s3, artifacts) reads from S3 under the latest revision's
    spec.aws.artifacts; the region they are in: `region`, else the spec's)."""
    from water.revisions import ConfigMapStore, deployed_spec
    from water.runtime import aws

    aws_spec = deployed_spec(ConfigMapStore(cluster, cluster.namespace), name).get("aws") or {}
    if not aws_spec.get("artifacts"):
        raise WaterError(f"pipeline '{name}' records no lineage: its deployed spec has no spec.aws.artifacts (the "
                         "S3 prefix its steps write their records to)")
    region = region or aws_spec.get("region")
    runs = _asking_aws(f"cannot read the lineage records under {aws_spec['artifacts']}", lambda: read(
        aws.client("s3", region), aws_spec["artifacts"]))
    return runs, region


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell's completion script for water.

    Commands and options, files for PATH, and the pipelines deployed in the namespace for NAME (read from the
    cluster as you type)."""
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None  # the choices are the shells click knows
    click.echo(complete(cli, {}, "water", "_WATER_COMPLETE").source())


EXAMPLES = {  # each command's help ends with these (tests/test_cli.py checks that every command has some)
    "new": ["water new recsys                 # ./recsys: a project that validates, renders and runs locally",
            "water new recsys --dir ~/src"],
    "validate": ["water validate                   # the water.yaml here", "water validate pipelines/demo"],
    "render": ["water render --env prod --dir deploy/prod   # for Argo CD or Flux to apply", "water render pipelines/demo | kubectl apply --dry-run=server -f -",
               "water render -o json", "water render --dir rendered/      # one file per object (GitOps)"],
    "graph": ["water graph -o svg > dag.svg", "water graph -o mermaid >> README.md"],
    "schema": ["water schema > water.schema.json   # for editors (yaml-language-server)",
               "water schema -o markdown"],
    "run": ["water run --local pipelines/demo", "water run --local . --event s3://landing/incoming/day.csv", "water run --local . --only train --param limit=100",
            "water run babyweight --wait -f        # on the cluster, with the step logs",
            "water run babyweight --date 2026-11-30"],
    "events": ["water events setup --dry-run"],
    "events setup": ["water events setup --dry-run   # the notification and policy, as JSON",
                     "water events setup pipelines/arrivals"],
    "backfill": ["water backfill babyweight --from 2026-11-01 --to 2026-11-30 --dry-run",
                 "water backfill babyweight --from 2026-11-01 --to 2026-11-30 --parallel 3 -y",
                 "water backfill --local pipelines/demo --from 2026-11-28 --to 2026-11-30"],
    "retry": ["water retry babyweight                 # the latest failed run", "water retry babyweight "
              "babyweight-x7k2p --wait -f", "water retry --local pipelines/demo"],
    "runs": ["water runs babyweight", "water runs babyweight -o json", "water runs --local pipelines/demo"],
    "models": ["water models babyweight", "water models babyweight -o json", "water models --local pipelines/demo"],
    "serve": ["water serve --local pipelines/demo --endpoint water-demo --port 8080",
              "curl -s -H 'Content-Type: text/csv' --data-binary @rows.csv http://127.0.0.1:8080/invocations"],
    "deploy": ["water deploy                       # diff, confirm, apply, record a revision",
               "water deploy --dry-run", "water deploy -y --param limit=500"],
    "diff": ["water diff && echo unchanged"],
    "edit": ["water edit babyweight", "VISUAL='code --wait' water edit babyweight"],
    "status": ["water status", "water status babyweight", "water status babyweight -o json"],
    "logs": ["water logs babyweight", "water logs babyweight --step train -f"],
    "history": ["water history babyweight", "water history babyweight --diff 3 4    # the SQL, commands, settings that changed"],
    "rollback": ["water rollback babyweight            # to the revision before the latest",
                 "water rollback babyweight --to 3 -y"],
    "suspend": ["water suspend babyweight"],
    "resume": ["water resume babyweight"],
    "promote": ["water promote babyweight --version 3            # every endpoint serving babyweight, after a yes",
                "water promote babyweight --version 2 --endpoint babyweight-staging -y",
                "water promote --local --version 1               # this project's registry and local endpoints"],
    "delete": ["water delete babyweight                     # asks, then asks about each endpoint it made",
               "water delete babyweight -y --keep-endpoint  # the model goes on serving"],
    "iam": ["water iam > policy.json",
            "aws iam put-role-policy --role-name water-runner --policy-name babyweight --policy-document "
            "file://policy.json",
            "water iam --trust https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B7 --account "
            "111122223333"],
    "completion": ["water completion bash > ~/.local/share/bash-completion/completions/water",
                   "water completion zsh > \"${fpath[1]}/_water\"",
                   "water completion fish > ~/.config/fish/completions/water.fish"],
    "install": ["water install --slack-webhook-file - < webhook.txt --aws-role-arn arn:aws:iam::111122223333:role/water",
                "water install --dry-run -o yaml"],
}


def _add_examples() -> None:
    import inspect

    for name, lines in EXAMPLES.items():
        command: Any = cli
        for word in name.split():  # a group's command: "events setup"
            command = command.commands[word]
        command.help = inspect.cleandoc(command.help or "") + "\n\n\b\nExamples:\n" + "\n".join(
            f"  {line}" for line in lines)


_add_examples()


def main() -> None:
    # A command allocates in bursts that reference counting frees (a 5,000-step spec is ~1M objects); at the
    # default thresholds the cyclic collector scans them ~300 times for nothing (up to a quarter of a render).
    # Young cycles are still collected, every 100,000 allocations.
    gc.set_threshold(100_000, 50, 1000)
    cli(prog_name="water")


if __name__ == "__main__":
    main()
