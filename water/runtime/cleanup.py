"""`water-job cleanup`, in the exit handler of a run that did not succeed: stop the AWS jobs its steps left
running. A step that gets SIGTERM while its run goes on (an eviction, the run's deadline) leaves its job for a
retry to re-attach to; once the run has failed nothing will. It is also the backstop of an `argo stop`ped run
whose steps could not read their Workflow (`argo terminate` skips exit handlers: there the steps stop their jobs)."""
from __future__ import annotations

from water.runtime import aws
from water.runtime.job import BadInput, Job, JobFailed


class CleanupTask:
    """Stop the AWS jobs a failed run left running (the exit handler)."""

    def run_cluster(self, job: Job) -> dict:
        from water.steps import KINDS

        problems = []
        for entry in job.config["steps"]:
            step = Job({"pipeline": job.pipeline, "step": entry["step"], "kind": entry["kind"],
                        "spec": entry["spec"], "aws": job.config.get("aws")}, {}, job.env, clients=job.clients)
            try:
                stopped = KINDS[entry["kind"]].stop_run(step)
            except BadInput as exc:  # an output that names an upstream output: its marker cannot be found here
                print(f"{entry['step']}: cannot look for its job: {exc}", flush=True)
                continue
            except Exception as exc:  # noqa: BLE001 - botocore's errors; one step's trouble must not hide others
                if aws.not_found(exc):  # no such job, bucket or query: nothing of this run is running there
                    print(f"{entry['step']}: nothing running ({(aws.refusal(exc) or (str(exc),))[0]})", flush=True)
                    continue
                problems.append(f"{entry['step']}: {str(exc).splitlines()[0]}")
                continue
            print(f"{entry['step']}: stopped {stopped}" if stopped else f"{entry['step']}: nothing running",
                  flush=True)
        if problems:
            raise JobFailed("could not stop every AWS job of the run: " + "; ".join(problems))
        return {}


CLEANUP_TASK = CleanupTask()
