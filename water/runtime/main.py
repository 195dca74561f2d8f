"""`water-job <kind> --config B64 [--refs JSON] [--shard i/n] [--pod-patch ...]`: one step in a pod.
Exit 0 done, 1 failed (the reason on one line), 2 bad input (retrying will not help)."""
from __future__ import annotations

import argparse
import os
import sys
import time

from water.runtime.job import BadInput, Job, JobFailed
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
    job = None
    try:
        job = Job.from_arguments(args.config, args.refs, dict(os.environ), args.shard)
        kind = _kinds().get(args.kind)
        if kind is None or not hasattr(kind, "run_cluster"):
            raise BadInput(f"water-job cannot run '{args.kind}' steps")
        try:
            outputs = kind.run_cluster(job)
        except KeyError as exc:  # a config written by another water version, or by hand
            raise BadInput(f"the step config has no {exc.args[0]!r}") from None
        job.write_outputs(outputs)
        if "bytes" in outputs:
            job.metrics.gauge("water.step.output_bytes", float(outputs["bytes"]))
        status, code = "success", 0
    except BadInput as exc:
        print(f"water-job: {exc}", file=sys.stderr)
        status, code = "failure", 2
    except (JobFailed, Timeout) as exc:
        print(f"water-job: {job.step if job else args.kind} failed: {exc}", file=sys.stderr)
        status, code = "failure", 1
    if job:
        job.metrics.histogram("water.step.duration", time.monotonic() - started)
        job.metrics.increment("water.step.runs", [f"status:{status}"])
    return code


if __name__ == "__main__":
    sys.exit(main())
