"""`container`: a command run in the pipeline image, wrapped by `water-job container`
(which resolves expressions, reports to Datadog and writes outputs)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from water.errors import JobFailed
from water.spec.fields import List, SpecModel, field
from water.spec.types import TEXT, S3Uri
from water.steps.base import NUMBER, PREFIX, Kind

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job


class ContainerSpec(SpecModel):
    """Run a command in the pipeline image."""

    command: list = field(List(TEXT, min_items=1), "The command and its arguments; may hold expressions.",
                          required=True)
    output: str = field(S3Uri(), "Where the command writes its result: `{{steps.NAME.output}}` for later steps.")


class Container(Kind):
    name = "container"
    spec = ContainerSpec
    outputs = {"output": PREFIX, "bytes": NUMBER}
    sizes = "pod"
    plain_cronjob = True

    def step_outputs(self, config: Any) -> tuple:
        return tuple(self.outputs) if config.output else ()

    def run_local(self, sr: StepRun) -> dict:
        outputs = {}
        if sr.step.config.output:
            outputs["output"], _ = sr.output_dir(sr.step.config.output)
        argv = [sr.for_process(arg) for arg in sr.step.config.command]
        if argv[0] in ("python", "python3"):
            argv[0] = sr.python()  # locally: water's interpreter, which has the project's packages
        sr.run_process(argv)
        return outputs


    def permissions(self, step: Any, scope: Any) -> list:
        scope.note(f"step {step.name} runs your own command: water cannot tell what it calls in AWS; add that")
        return []

    def run_cluster(self, job: Job) -> dict:
        """The command, with its expressions resolved and the step's env; its exit code decides."""
        import os
        import subprocess

        from water import backoff, contract
        from water.runtime import aws, poll

        spec = job.spec
        argv = [job.resolve(arg) for arg in spec["command"]]
        env = {**os.environ, **{k: job.resolve(v) for k, v in job.config.get("env", {}).items()},
               contract.SHARD_ENV: job.shard}
        try:
            process = subprocess.Popen(argv, env=env)
        except OSError as exc:
            raise JobFailed(f"cannot run {argv[0]}: {exc.strerror}") from None
        job.attached(f"command {argv[0]} (pid {process.pid})", lambda: _stop(process), aws_job=False)
        try:
            code = job.wait(process.poll, interval=backoff.Policy(first=0.2, cap=1.0))
        except poll.Timeout:
            _stop(process)
            raise
        if code:
            raise JobFailed(f"{argv[0]} exited with code {code}")
        if not spec.get("output"):
            return {}
        output = job.resolve(spec["output"])
        return {"output": output, "bytes": aws.measure_prefix(job.client("s3"), output)[0]}


def _stop(process) -> None:
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


KIND = Container()
