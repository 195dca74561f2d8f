"""What a step sees while it runs locally: its expression values, `s3://` mapped to a
folder, and processes whose output goes to the step's log."""
from __future__ import annotations

from typing import Any

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from water import contract, expressions
from water.errors import StepFailed  # noqa: F401 - where the kinds' local backends find it

LOG_TAIL = 20


@dataclass
class LocalRun:
    """One local run of a pipeline: where its data and records live, and the values known so far."""

    pipeline: Any  # water.pipeline.Pipeline: the local backend knows it only through its attributes
    run_id: str
    run_date: str
    params: dict
    data_root: str
    run_dir: str
    values: dict = field(default_factory=dict)  # Ref.key → value, filled as steps finish
    processes: set = field(default_factory=set)  # the steps' processes running now (Popen)
    git: dict = field(default_factory=dict)  # {commit, branch, dirty} of the project: {{git...}}
    interrupted: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: start nothing more
    starting: threading.Lock = field(default_factory=threading.Lock)  # a process starts, or the run stops: not both

    def interrupt(self, grace: float = 5.0) -> None:
        """Ctrl-C: stop the steps' processes and all they started (SIGTERM to each one's process group, SIGKILL
        after `grace` seconds); their logs stay."""
        with self.starting:  # a process started now is in `processes` here, or sees `interrupted` and never starts
            self.interrupted.set()
            stopping = list(self.processes)
        for process in stopping:
            _signal_group(process, signal.SIGTERM)
        for process in stopping:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)

    def local_path(self, uri: str) -> str:
        """The folder that stands for an s3:// URI; never outside the data root."""
        if not uri.startswith("s3://"):
            raise StepFailed(f"'{uri}' is not an s3:// URI")
        root = os.path.abspath(self.data_root)
        path = os.path.abspath(os.path.join(root, uri[len("s3://"):]))
        if os.path.commonpath([root, path]) != root:
            raise StepFailed(f"'{uri}' points outside the local data root")
        return path + ("/" if uri.endswith("/") else "")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:  # it ended, and its group with it
        pass


@dataclass
class StepRun:
    run: LocalRun
    step: Any  # water.pipeline.PipelineStep
    log_path: str
    shard: str = "0/1"
    notes: list = field(default_factory=list)  # lines worth showing the user, e.g. a model's metrics

    @property
    def project_dir(self) -> str:
        return self.run.pipeline.project_dir

    def resolve(self, text: str) -> str:
        """A text with its expressions replaced by this run's values."""
        values = {**self.run.values, "run.id": self.run.run_id, "run.date": self.run.run_date,
                  "git.commit": self.run.git.get("commit", ""), "git.branch": self.run.git.get("branch", ""),
                  **{f"params.{k}": v for k, v in self.run.params.items()}}
        return expressions.substitute(text, values)

    def for_process(self, text: str) -> str:
        """What a process gets for a text: resolved, and an s3:// URI as its local folder."""
        value = self.resolve(text)
        return self.run.local_path(value) if value.startswith("s3://") else value

    def input_prefix(self, uri_text: str) -> str:
        """The local folder (or file) of an S3 prefix a SageMaker job reads; StepFailed when no object is under it,
        as SageMaker fails such a job ("No S3 objects found under S3 URL ...")."""
        import glob

        uri = self.resolve(uri_text)
        path = self.run.local_path(uri)
        found = os.path.isfile(path) or any(files for _, _, files in os.walk(path)) or any(
            os.path.isfile(p) or any(files for _, _, files in os.walk(p)) for p in glob.glob(glob.escape(path) + "*"))
        if not found:
            raise StepFailed(f"no objects under {uri} (SageMaker fails the job the same way: No S3 objects found "
                             "under S3 URL)")
        return path

    def output_dir(self, uri_text: str) -> tuple[str, str]:
        """The resolved URI of an output and its local folder, created."""
        uri = self.resolve(uri_text)
        path = self.run.local_path(uri)
        os.makedirs(path, exist_ok=True)
        return uri, path

    def env(self, extra: dict | None = None) -> dict:
        env = {**os.environ, contract.RUN_ID_ENV: self.run.run_id, contract.RUN_DATE_ENV: self.run.run_date,
               contract.SHARD_ENV: self.shard, "PYTHONUNBUFFERED": "1"}
        env.update({contract.PARAM_ENV_PREFIX + k: v for k, v in self.run.params.items()})
        env.update({k: self.for_process(v) for k, v in self.step.env.items()})
        env.update(extra or {})
        return env

    def run_process(self, argv: list, env: dict | None = None) -> None:
        """Run a process in the project folder, its output appended to the step's log; fail with its tail."""
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            process = self._start(argv, env, log)
            try:
                code = process.wait(timeout=self.step.timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
                raise StepFailed(f"timed out after {self.step.timeout}s (the step's timeout)", self.log_path) from None
            finally:
                self.run.processes.discard(process)
        if self.run.interrupted.is_set():
            raise Interrupted(f"stopped by Ctrl-C ({os.path.basename(argv[0])} was terminated)", self.log_path)
        if code:
            raise StepFailed(f"{os.path.basename(argv[0])} exited with code {code}", self.log_path)

    def _start(self, argv: list, env: dict | None, log: Any) -> subprocess.Popen:
        with self.run.starting:
            if self.run.interrupted.is_set():
                raise Interrupted("stopped by Ctrl-C before it started", self.log_path)
            try:
                # a process group of its own: Ctrl-C and timeouts stop it with everything it started
                process = subprocess.Popen(argv, cwd=self.project_dir, env=self.env(env), stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                raise StepFailed(f"cannot run {argv[0]}: {exc.strerror}", self.log_path) from None
            self.run.processes.add(process)
            return process

    def python(self) -> str:
        return sys.executable

    def note(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


class Interrupted(StepFailed):
    """The run was stopped (Ctrl-C) while the step ran."""


def log_tail(path: str, lines: int = LOG_TAIL) -> list:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return []
