"""Run a pipeline's DAG on this machine: independent steps in parallel, sizing and fan-out
as on the cluster, downstream steps skipped after a failure, every run kept on disk."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from water import conditions, gitinfo, sizing
from water.errors import BadInput, WaterError
from water.local.context import Interrupted, LocalRun, StepFailed, StepRun, log_tail
from water.local.progress import name_width
from water.schedule import in_zone, ticks
from water.spec.fields import as_data
from water.steps import registry

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


RUNS = os.path.join(".water", "runs")
STOP_POLL_SECONDS = 0.1  # how soon a Ctrl-C is acted on


@dataclass
class StepResult:
    name: str
    status: str  # done | failed | skipped | reused | interrupted
    seconds: float = 0.0
    outputs: dict = field(default_factory=dict)
    error: str = ""
    log: str = ""
    sizing: str = ""
    shards: int = 0
    notes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # the data it read, each object with its ETag (lineage)


@dataclass
class RunResult:
    pipeline: str
    run_id: str
    run_dir: str
    data_root: str
    params: dict
    date: str = ""  # {{run.date}}: the day the run stands for
    status: str = "running"  # then succeeded | failed | interrupted
    seconds: float = 0.0
    steps: dict = field(default_factory=dict)
    retry_of: str = ""  # the run this one retries (water retry --local)
    git: dict = field(default_factory=dict)  # {commit, branch, dirty} of the project when it ran
    spec_hash: str = ""  # of the spec and the files it names, as a deploy's water/spec-hash


def runs_dir(pipeline: Pipeline) -> str:
    return os.path.join(pipeline.project_dir, RUNS)


def past_runs(pipeline: Pipeline) -> list:
    """Earlier runs, newest first, as their run.json records."""
    records = []
    folder = runs_dir(pipeline)
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        try:
            with open(os.path.join(folder, name, "run.json"), encoding="utf-8") as f:
                records.append(json.load(f))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r.get("started", ""), reverse=True)


def _plan(pipeline: Pipeline, from_step, only) -> tuple[list, dict]:
    """(steps to run, name → outputs of steps reused from earlier runs instead of running again).
    --from: the step and what follows it run, the rest is reused; --only: the step alone runs on its
    upstream's outputs. Each reused step's outputs come from the newest run in which it succeeded."""
    if not (from_step or only):
        return list(pipeline.steps), {}
    target = from_step or only
    names = [s.name for s in pipeline.steps]
    if target not in names:
        raise BadInput(f"unknown step '{target}' (steps: {', '.join(names)})")
    downstream = {s.name for s in pipeline.steps if target in pipeline.upstream[s.name]}
    again = {target} if only else {target} | downstream
    keep = pipeline.upstream[target] if only else [n for n in names if n not in again]
    runs = past_runs(pipeline)
    reused = {}
    for name in [n for n in names if n in keep]:
        found = next((r["steps"][name]["outputs"] for r in runs
                      if r["steps"].get(name, {}).get("status") in ("done", "reused")), None)
        if found is None:
            raise WaterError(f"step '{name}' has not succeeded in any earlier local run: run it first "
                             f"(or the whole pipeline)")
        reused[name] = found
    return [s for s in pipeline.steps if s.name in again], reused


def run(pipeline: Pipeline, *, params: dict | None = None, jobs: int | None = None, from_step: str | None = None,
        only: str | None = None, report: Any = lambda result: None, now: datetime | None = None,
        date: str | None = None, retrying: dict | None = None) -> RunResult:
    """Run the pipeline here; `report` gets a StepResult as each step starts and ends (water.local.progress).
    {{run.date}} is `date`, else today in the schedule's time zone (UTC without one), as on the cluster.
    `retrying`: the record of a run to retry (see `retry`)."""
    now = now or datetime.now().astimezone()
    if retrying is not None:
        params, date = retrying["params"], retrying.get("date") or date
        to_run, reused = _retry_plan(pipeline, retrying)
    else:
        to_run, reused = _plan(pipeline, from_step, only)
    date = date or in_zone(now, pipeline.run_zone).strftime("%Y-%m-%d")
    values = pipeline.param_values(params or {})
    run_id = _new_run_id(pipeline, now)
    run_dir = os.path.join(runs_dir(pipeline), run_id)
    os.makedirs(os.path.join(run_dir, "steps"))
    data_root = os.path.join(pipeline.project_dir, pipeline.spec.local.data_root)
    git = gitinfo.describe(pipeline.project_dir)
    local = LocalRun(pipeline, run_id, date, values, data_root, run_dir, git=git)
    result = RunResult(pipeline.name, run_id, run_dir, data_root, values, date,
                       retry_of=retrying["run_id"] if retrying else "", git=git, spec_hash=pipeline.source_hash)
    with open(os.path.join(run_dir, "water.yaml"), "w", encoding="utf-8") as f, open(pipeline.file) as spec:
        f.write(f"# run {run_id}, params {json.dumps(values, sort_keys=True)}\n" + spec.read())
    for name, outputs in reused.items():
        result.steps[name] = StepResult(name, "reused", outputs=outputs)
        local.values.update({f"steps.{name}.{k}": v for k, v in outputs.items()})
        report(result.steps[name])
    started = time.monotonic()
    try:
        with _ctrl_c_asks_to_stop() as stop_asked:
            _schedule(pipeline, to_run, local, result, jobs or os.cpu_count() or 1, report, stop_asked)
    finally:  # a Ctrl-C too: the run is recorded as what it is, with what each step did
        result.seconds = time.monotonic() - started
        failed = [s for s in result.steps.values() if s.status == "failed"]
        result.status = "interrupted" if local.interrupted.is_set() else "failed" if failed else "succeeded"
        _record(result, now)
    return result


def failed_run(pipeline: Pipeline, run_id: str | None = None) -> dict:
    """The record of RUN, or of the latest local run that failed or was interrupted and has no retry that
    succeeded: what `water retry --local` runs again."""
    records = past_runs(pipeline)
    if run_id is None:
        done = {r.get("retry_of") for r in records if r.get("status") == "succeeded"}  # retried already
        found = next((r for r in records if r.get("status") in ("failed", "interrupted") and r["run_id"] not in done),
                     None)
        if found is None:
            raise WaterError(f"{pipeline.name} has no failed local run to retry (water runs --local)")
        return found
    found = next((r for r in records if r.get("run_id") == run_id), None)
    if found is None:
        raise BadInput(f"no local run '{run_id}' of {pipeline.name} (water runs --local lists them)")
    if found.get("status") == "succeeded":
        raise WaterError(f"run '{run_id}' succeeded: nothing to retry")
    return found


def backfill_days(pipeline: Pipeline, first: date, last: date) -> list[tuple[str, str]]:
    """(day, the local run that already succeeded for it, or '') of each day the schedule fires on from `first`
    to `last`, in its time zone: what `water backfill --local` runs, one run per day (a local run stands for a
    day, its {{run.date}})."""
    schedule = pipeline.spec.schedule
    if schedule is None:
        raise BadInput(f"{pipeline.file}: spec.schedule is missing: a backfill runs the days the schedule fires on")
    days = dict.fromkeys(f"{t:%Y-%m-%d}" for t in ticks(schedule.cron, schedule.timezone, first, last))
    done = {r.get("date"): r["run_id"] for r in reversed(past_runs(pipeline)) if r.get("status") == "succeeded"}
    return [(day, done.get(day, "")) for day in days]


def _retry_plan(pipeline: Pipeline, record: dict) -> tuple[list, dict]:
    """The steps that did not succeed in the run, and the outputs of those that did (its own, or what it reused)."""
    reused = {name: step["outputs"] for name, step in record["steps"].items()
              if step.get("status") in ("done", "reused") and name in pipeline.by_name}
    return [s for s in pipeline.steps if s.name not in reused], reused


def _new_run_id(pipeline: Pipeline, now: datetime) -> str:
    base = f"{pipeline.name}-{now:%Y%m%d-%H%M%S}"
    run_id, n = base, 1
    while os.path.exists(os.path.join(runs_dir(pipeline), run_id)):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


@contextmanager
def _ctrl_c_asks_to_stop() -> Iterator[threading.Event]:
    """Ctrl-C sets the event instead of raising KeyboardInterrupt wherever the main thread happens to be (a
    KeyboardInterrupt inside ThreadPoolExecutor.submit escaped the scheduler and left the steps running)."""
    asked = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield asked
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: asked.set())
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, previous)


def _schedule(pipeline: Pipeline, to_run, local, result: Any, jobs, report: Any, stop_asked: threading.Event) -> None:
    pending = list(to_run)
    running: dict = {}
    def finish(step: PipelineStep, outcome: StepResult) -> None:
        result.steps[step.name] = outcome
        report(outcome)
        if outcome.status in ("failed", "skipped"):
            why = f"{step.name} failed" if outcome.status == "failed" else f"{step.name} was skipped"
            for later in [s for s in pending if step.name in pipeline.upstream[s.name]]:
                pending.remove(later)
                result.steps[later.name] = StepResult(later.name, "skipped", error=why)
                report(result.steps[later.name])
        else:
            local.values.update({f"steps.{step.name}.{k}": v for k, v in outcome.outputs.items()})

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            finished = {n for n, r in result.steps.items() if r.status in ("done", "reused")}
            for step in [s for s in pending if set(s.after) <= finished][: max(0, jobs - len(running))]:
                pending.remove(step)
                known = {**{f"params.{k}": v for k, v in local.params.items()}, **local.values}
                if step.when is not None:
                    try:
                        known.update(conditions.model_values(step.when, lambda group: registry.local_live(
                            pipeline.project_dir, group)))
                    except ValueError as exc:
                        finish(step, StepResult(step.name, "failed", error=f"when: {exc}"))
                        continue
                if step.when is not None and not conditions.holds(step.when, known):
                    finish(step, StepResult(step.name, "skipped", error=f"when: "
                                            f"{conditions.describe(step.when, known)} is false"))
                    continue
                report(StepResult(step.name, "running"))
                running[pool.submit(_execute, local, step, jobs)] = step
            if not running:
                if pending and any(set(s.after) <= finished for s in pending):
                    continue  # a gate just skipped: what it freed is scheduled on the next pass
                break
            done, _ = wait(running, timeout=STOP_POLL_SECONDS, return_when=FIRST_COMPLETED)
            if stop_asked.is_set():
                _interrupted(local, running, pending, finish, result, report)
                return
            for future in done:
                step = running.pop(future)
                finish(step, future.result())


def _interrupted(local: LocalRun, running: dict, pending: list, finish: Any, result: Any, report: Any) -> None:
    """Ctrl-C: the steps' processes stopped, what runs waited for (each recorded as interrupted, its log kept),
    nothing more started."""
    local.interrupt()
    for future, step in running.items():
        finish(step, future.result())
    for step in pending:
        result.steps[step.name] = StepResult(step.name, "skipped", error="the run was interrupted")
        report(result.steps[step.name])
    pending.clear()


def _execute(local: LocalRun, step: PipelineStep, jobs: int) -> StepResult:
    started = time.monotonic()
    logs = os.path.join(local.run_dir, "steps")
    outcome = StepResult(step.name, "done", log=os.path.join(logs, f"{step.name}.log"))
    try:
        shards = 1
        if step.sizing:
            decision = _size(local, step)
            outcome.sizing = decision.describe(step.name)
            shards = decision.shards if step.kind.sizes == "pod" else 1
        runs = [StepRun(local, step, outcome.log if shards == 1 else os.path.join(logs, f"{step.name}.shard{i}.log"),
                        f"{i}/{shards}") for i in range(shards)]
        if shards == 1:
            outcome.outputs = step.kind.run_local(runs[0])
        else:
            with ThreadPoolExecutor(max_workers=min(shards, jobs)) as pool:
                outcome.outputs = list(pool.map(step.kind.run_local, runs))[0]
        outcome.shards = shards
        outcome.notes = runs[0].notes
        outcome.inputs = _inputs_read(local, step, runs[0])
        if "bytes" in step.outputs and "output" in outcome.outputs:
            outcome.outputs["bytes"] = str(sizing.measure_folder(local.local_path(outcome.outputs["output"]))[0])
    except Interrupted as exc:
        outcome.status, outcome.error, outcome.log = "interrupted", str(exc), exc.log or outcome.log
    except StepFailed as exc:
        outcome.status, outcome.error, outcome.log = "failed", str(exc), exc.log or outcome.log
    except WaterError as exc:  # what a kind's code shared with its pod raises (JobFailed): its message says it all
        outcome.status, outcome.error = "failed", str(exc)
    except Exception as exc:  # a bug or an unexpected environment: still a failed step, not a crash of the run
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
    outcome.seconds = time.monotonic() - started
    return outcome


def _inputs_read(local: LocalRun, step: PipelineStep, sr: StepRun) -> list:
    """What the step read, as a pod records it (water.runtime.lineage): each file under the data root standing for
    an s3:// input, with its MD5 as its ETag."""
    from water.runtime import lineage

    return lineage.read_inputs(step.kind.inputs(step.job_config(), sr.resolve), lambda uri: _local_entries(local, uri))


def _local_entries(local: LocalRun, uri: str) -> Iterator[tuple[str, str, int]]:
    import hashlib

    from water.runtime.aws import MARKER

    bucket_root = local.local_path("s3://" + uri[len("s3://"):].partition("/")[0] + "/")
    path = local.local_path(uri)
    files = [path] if os.path.isfile(path) else [os.path.join(folder, name) for folder, _, names in os.walk(path)
                                                 for name in names if name != MARKER]
    for file in files:
        with open(file, "rb") as f:
            etag = hashlib.file_digest(f, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
        yield os.path.relpath(file, bucket_root).replace(os.sep, "/"), etag, os.path.getsize(file)


def _size(local: LocalRun, step: PipelineStep) -> sizing.Decision:
    upstream = local.pipeline.step(step.sizing.from_)
    source = local.values[f"steps.{upstream.name}.{upstream.measured_output}"]
    size, objects = sizing.measure_folder(local.local_path(source))
    return sizing.choose([as_data(t) for t in step.sizing.tiers], size, objects)


def _record(result: RunResult, now: datetime) -> None:
    record = {**asdict(result), "started": now.isoformat()}
    with open(os.path.join(result.run_dir, "run.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, sort_keys=True)


def summary(result: RunResult) -> list:
    """The lines printed when a run ends: a table of steps, then where things are."""
    width = name_width(result.steps)
    lines = ["", f"{'step':<{width}} {'status':<8} {'time':>7}  output"]
    for step in result.steps.values():
        output = step.outputs.get("output", "")
        lines.append(f"{step.name:<{width}} {step.status:<8} {step.seconds:>6.1f}s  {output}")
    lines.append("")
    lines += [step.sizing for step in result.steps.values() if step.sizing]
    lines += [f"{step.name}: {note}" for step in result.steps.values() for note in step.notes]
    for step in result.steps.values():
        if step.status in ("failed", "interrupted"):
            lines.append(f"{step.name} {step.status}: {step.error}")
            lines += [f"  | {line}" for line in log_tail(step.log)]
            lines.append(f"  (log: {step.log})")
    lines.append(f"run {result.run_id} {result.status} in {result.seconds:.1f}s; records in {result.run_dir}; "
                 f"s3:// is {result.data_root}")
    return lines
