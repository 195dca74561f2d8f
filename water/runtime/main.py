"""`water-job <kind> --config B64 [--refs JSON] [--shard i/n] [--pod-patch ...]`: one step in a pod.
Exit 0 done, 1 failed (the reason on one line), 2 bad input (retrying will not help)."""
from __future__ import annotations

import argparse
import os
import sys
import time

import signal

from water.runtime.job import BadInput, Job, JobFailed, Terminated
from water.runtime.poll import Timeout


def _kinds() -> dict:
    from water.sizing import SIZE_TASK
    from water.steps import KINDS

    return {**KINDS, "size": SIZE_TASK}


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="water-job")
    parser.add_argument("kind")
    parser.add_argument("--config", required=True)
    parser.add_argument("--refs", default="{}")
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--pod-patch", default="")  # read by Kubernetes through podSpecPatch, not here
    args = parser.parse_args(argv)
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run(args, started)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args, started: float) -> int:
    job = None
    try:
        job = Job.from_arguments(args.config, args.refs, dict(os.environ), args.shard)
        kind = _kinds().get(args.kind)
        if kind is None or not hasattr(kind, "run_cluster"):
            raise BadInput(f"water-job cannot run '{args.kind}' steps")
        outputs = kind.run_cluster(job)
        job.write_outputs(outputs)
        if "bytes" in outputs:
            job.metrics.gauge("water.step.output_bytes", float(outputs["bytes"]))
        status, code = "success", 0
    except BadInput as exc:
        print(f"water-job: {exc}", file=sys.stderr)
        status, code = "failure", 2
    except (JobFailed, Timeout) as exc:
        print(f"water-job: {job.step if job else args.kind} failed: {exc}", file=sys.stderr)
        for line in getattr(exc, "log", ()):
            print(f"  | {line}", file=sys.stderr)
        status, code = "failure", 1
    except Terminated:
        print(f"water-job: {job.on_terminate() if job else 'terminated'}", file=sys.stderr)
        status, code = "terminated", 128 + signal.SIGTERM
    if job and job.running:
        job.metrics.histogram("water.aws.job.duration", time.monotonic() - job.job_started)
    if job:
        job.metrics.histogram("water.step.duration", time.monotonic() - started)
        job.metrics.increment("water.step.runs", [f"status:{status}"])
    return code


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one termination is enough
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
