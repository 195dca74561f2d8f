"""`water-job <kind> [--shared B64] --config-key TASK [--refs JSON] [--shard i/n] [--pod-patch ...]`: one step in a
pod (its own config read from the steps' ConfigMaps mounted at /etc/water/steps, or given as `--config B64`).
Exit 0 done, 1 failed (the reason on one line), 2 bad input (retrying will not help), 143 terminated."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

from water import __version__, contract
from water.errors import BAD_INPUT, BadInput, WaterError
from water.runtime import aws, lineage
from water.runtime.job import Job
from water.runtime.poll import STOP, Terminated

TERMINATION_LOG = "/dev/termination-log"  # the kubelet's default terminationMessagePath
TERMINATION_LIMIT = 4096  # bytes Kubernetes keeps of a termination message


def _kinds() -> dict:
    from water.alerts import NOTIFY_TASK
    from water.conditions import WHEN_TASK
    from water.runtime.cleanup import CLEANUP_TASK
    from water.sizing import SIZE_TASK
    from water.steps import KINDS

    return {**KINDS, "size": SIZE_TASK, "notify": NOTIFY_TASK, "cleanup": CLEANUP_TASK, "when": WHEN_TASK}


def _kinds_listed() -> str:
    """One line per kind `water-job` runs: the step kinds' spec summaries, water's own tasks' docstrings."""
    lines = []
    for name, kind in sorted(_kinds().items()):
        doc = (getattr(kind, "spec", None) or type(kind)).__doc__ or ""
        lines.append(f"  {name:<10} {doc.strip().splitlines()[0] if doc.strip() else ''}")
    return "kinds:\n" + "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """water-job's command line, whose errors end the pod as bad input with a termination message: one it does not
    know comes from a newer water than this image's (the manifests and the step image disagree)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message += (f": this step image's water-job is {__version__}, and the pod's template was rendered by a "
                        "newer water; rebuild the image with that water (jobs/Dockerfile)")
        _report_failure("water-job: ", message, [])
        sys.exit(BAD_INPUT)


def main(argv: list | None = None, *, sleep: Callable[[float], object] | None = None,
         clients: aws.Clients = aws.client) -> int:
    """`sleep`: what the step's waits sleep with (default: a wait that SIGTERM ends at once); `clients`: what
    makes its AWS clients."""
    argv = sys.argv[1:] if argv is None else argv
    wants_help = any(a in ("-h", "--help") for a in argv)  # only then are the kinds loaded to be listed
    parser = _Parser(prog="water-job", description="Run one step of a water pipeline in its pod.",
                                     epilog=_kinds_listed() if wants_help else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"water-job {__version__}")
    parser.add_argument("kind", help="the step's kind (listed below)")
    own = parser.add_mutually_exclusive_group(required=True)
    own.add_argument(contract.ARG_CONFIG_KEY, dest="config_key", default="")
    own.add_argument(contract.ARG_CONFIG, dest="config", default="")
    parser.add_argument(contract.ARG_STEPS_DIR, dest="steps_dir", default=contract.STEPS_DIR)
    parser.add_argument(contract.ARG_SHARED, dest="shared", default="")  # older manifests: none
    parser.add_argument(contract.ARG_REFS, dest="refs", default="{}")
    parser.add_argument(contract.ARG_SHARD, dest="shard", default="0/1")
    parser.add_argument(contract.ARG_POD_PATCH, dest="pod_patch", default="")
    for name in contract.NOTIFY_ARGS:
        parser.add_argument(name, default="")
    args = parser.parse_args(argv)
    started = time.monotonic()
    STOP.clear()
    previous = signal.signal(signal.SIGTERM, _request_stop)
    try:
        return _run(args, started, sleep, clients)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, started: float, sleep: Callable[[float], object] | None,
         clients: aws.Clients) -> int:
    job = None
    try:
        job = Job.from_arguments(args.config, args.refs, dict(os.environ), args.shard, args.shared, sleep, clients,
                                 args.config_key, args.steps_dir)
        job.extra = {"status": args.status, "failures": args.failures, "duration": args.duration}
        from water.steps.base import Kind

        kinds = _kinds()
        kind = kinds.get(args.kind)
        if kind is None:
            raise BadInput(f"no step kind '{args.kind}' (known: {', '.join(sorted(kinds))})")
        outputs = kind.run_cluster(job)
        job.write_outputs(outputs)
        recorded = lineage.write(job, kind.inputs, outputs) if isinstance(kind, Kind) else None  # steps, not tasks
        if recorded:
            print(f"lineage recorded at {recorded}", flush=True)
        if "bytes" in outputs:
            job.metrics.gauge("water.step.output_bytes", float(outputs["bytes"]))
        if contract.COST in outputs:
            job.metrics.gauge("water.step.cost", float(outputs[contract.COST]))
        status, code = "success", 0
    except WaterError as exc:  # bad input is about the config, so it names no step; a failure names its step
        head = "water-job: " if exc.exit_code == BAD_INPUT else _failed(job, args.kind)
        _report_failure(head, str(exc), getattr(exc, "log", ()))
        status, code = "failure", exc.exit_code
    except Terminated:
        print(f"water-job: {job.on_terminate() if job else 'terminated'}", file=sys.stderr)
        status, code = "terminated", 128 + signal.SIGTERM
    except Exception as exc:  # noqa: BLE001 - AWS's refusals and water's own bugs alike end counted, on one line
        refused = aws.refusal(exc)
        if refused is None:
            import traceback  # 4 ms at start-up that only a bug needs

            traceback.print_exc()  # all of it for whoever fixes it, then the line the run's message shows
        reason, retry = refused or (f"{type(exc).__name__}: {exc}", True)
        _report_failure(_failed(job, args.kind), reason, [])
        status, code = "failure", 1 if retry else BAD_INPUT
    if job and job.running and job.running[2]:
        job.metrics.histogram("water.aws.job.duration", time.monotonic() - job.job_started)
    if job:
        job.metrics.histogram("water.step.duration", time.monotonic() - started)
        job.metrics.increment("water.step.runs", [f"status:{status}"])
    return code


def _failed(job: Job | None, kind: str) -> str:
    return f"water-job: {(job and job.step) or kind} failed: "


def _report_failure(head: str, reason: str, log) -> None:
    """The reason and the end of the job's log, on stderr and as the container's termination message: Argo
    makes that the failed node's message, so the exit handler's {{workflow.failures}} carries it to Slack."""
    lines = [f"  | {line}" for line in log]
    print("\n".join([head + reason, *lines]), file=sys.stderr)
    path = os.environ.get(contract.TERMINATION_LOG_ENV, TERMINATION_LOG)
    if not os.path.exists(path):
        return  # not in a pod
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(termination_message(reason, lines))
    except OSError:
        pass  # a message is worth having, never worth failing for


def termination_message(reason: str, lines: list) -> str:
    """The reason, then as much of the log's end as fits Kubernetes' 4 KiB."""
    message, kept = reason[:1024], list[str]()
    for line in reversed(lines):
        if len("\n".join([message, line, *kept]).encode()) > TERMINATION_LIMIT:
            break
        kept.insert(0, line)
    return "\n".join([message, *kept])


def _request_stop(signum, frame) -> None:
    STOP.set()  # the waits notice it at once and end at a safe point


if __name__ == "__main__":
    sys.exit(main())
