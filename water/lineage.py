"""`water lineage`: the chain data → steps → model version → endpoint, read from the records each step leaves
(water.runtime.lineage: in S3 under spec.aws.artifacts on a cluster, in run.json locally), both ways: what a run
read and made, what made a model version (back to the objects it was trained on and the commit), which runs read
an object."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from water.errors import WaterError


@dataclass
class RunLineage:
    """One run's records: steps by name (in the order they ran), each {kind, inputs, outputs}."""

    pipeline: str
    run: str
    spec_hash: str = ""
    commit: str = ""
    branch: str = ""
    steps: dict = field(default_factory=dict)
    started: str = ""  # when its first record was written (RFC 3339, UTC)


def local_runs(pipeline: Any) -> list:
    """The project's local runs, newest first, from their run.json."""
    from water.local.runner import past_runs

    kinds = {step.name: step.kind.name for step in pipeline.steps}
    order = {name: i for i, name in enumerate(kinds)}  # run.json keeps steps by name: shown as the spec has them
    return [RunLineage(record["pipeline"], record["run_id"], record.get("spec_hash", ""),
                       (record.get("git") or {}).get("commit") or "", (record.get("git") or {}).get("branch") or "",
                       {name: {"kind": kinds.get(name, ""), "inputs": step.get("inputs", []),
                               "outputs": step.get("outputs", {})}
                        for name, step in sorted(record["steps"].items(), key=lambda item: order.get(item[0], 0))
                        if step.get("status") in ("done", "reused")})
            for record in past_runs(pipeline)]


def cluster_runs(s3: Any, artifacts: str, pipeline: str, since: Any = None) -> list:
    """The pipeline's runs recorded under `<artifacts>lineage/<pipeline>/`, newest first; `since` (a datetime):
    only records written since then are read."""
    bucket, listed = _listed(s3, artifacts, pipeline, since)
    keys = [key for objects in listed.values() for key, _ in objects]
    read = dict(zip(keys, _records(s3, bucket, keys)))
    return sorted((_run_lineage(pipeline, run, [read[key] for key, _ in objects]) for run, objects in listed.items()),
                  key=lambda r: r.started, reverse=True)


def cluster_run(s3: Any, artifacts: str, pipeline: str, run: str | None) -> RunLineage:
    """One run's records, the latest run's by default: the listing names the runs, and only that one's records
    are read (one GET per step, not per step of every run kept)."""
    bucket, listed = _listed(s3, artifacts, pipeline)
    newest_first = sorted(listed, key=lambda name: min(at for _, at in listed[name]), reverse=True)
    chosen = chosen_run(newest_first, pipeline, run)
    return _run_lineage(pipeline, chosen, _records(s3, bucket, [key for key, _ in listed[chosen]]))


def _listed(s3: Any, artifacts: str, pipeline: str, since: Any = None) -> tuple[str, dict]:
    """(the bucket, {run: [(key, LastModified) of each of its records]}), written since `since` if given."""
    from water.runtime import aws
    from water.runtime.lineage import FOLDER

    bucket, prefix = aws.s3_parts(f"{artifacts}{FOLDER}{pipeline}/")
    listed: dict = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if since is None or obj["LastModified"] >= since:
                listed.setdefault(obj["Key"][len(prefix):].partition("/")[0], []).append(
                    (obj["Key"], obj["LastModified"]))
    return bucket, listed


# records read at a time: each GET is a round trip to S3, and one boto3 client may be shared by threads (boto3's
# guide, "Multithreading or multiprocessing with clients": low-level clients are thread safe), as many as its
# connection pool holds (botocore's Config max_pool_connections, 10 unless set)
READERS = 10


def _records(s3: Any, bucket: str, keys: list) -> list:
    """The records at `keys`, in their order, READERS GETs at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def read(key: str) -> dict:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    if len(keys) < 2:
        return [read(key) for key in keys]
    with ThreadPoolExecutor(min(READERS, len(keys))) as pool:
        return list(pool.map(read, keys))


def _run_lineage(pipeline: str, run: str, records: list) -> RunLineage:
    records.sort(key=lambda r: r["at"])
    told = next((r for r in records if r.get("specHash")), records[0])
    return RunLineage(pipeline, run, told.get("specHash", ""), told.get("commit", ""), told.get("branch", ""),
                      {r["step"]: {"kind": r["kind"], "inputs": r["inputs"], "outputs": r["outputs"]}
                       for r in records}, records[0]["at"])


def pick_run(runs: list, pipeline: str, run: str | None) -> RunLineage:
    """Run `run` of those recorded (newest first), else the latest."""
    chosen = chosen_run([r.run for r in runs], pipeline, run)
    return next(r for r in runs if r.run == chosen)


def chosen_run(names: list, pipeline: str, run: str | None) -> str:
    """`run` if it is among the recorded runs' names (newest first), else the latest; what is recorded if not."""
    if not names:
        raise WaterError(f"no lineage recorded for pipeline '{pipeline}'")
    if run is None:
        return names[0]
    if run not in names:
        raise WaterError(f"no lineage recorded for run '{run}' of '{pipeline}' (recorded: "
                         f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''})")
    return run


def rows(run: RunLineage, names: list | None = None) -> list:
    """A row per object read and output made, step by step (`names`: these steps only, in this order)."""
    out = []
    for name in names or list(run.steps):
        step = run.steps[name]
        base = {"run": run.run, "step": name, "kind": step["kind"]}
        for read in step["inputs"]:
            out += [{**base, "io": "read", "what": o["uri"], "etag": o["etag"], "size": o["size"]}
                    for o in read["objects"]]
            if read["count"] > len(read["objects"]):
                out.append({**base, "io": "read", "what": f"{read['uri']} ({read['count'] - len(read['objects'])} "
                            f"more objects)", "etag": f"digest {read['digest'][:16]}", "size": read["bytes"]})
        out += [{**base, "io": "made", "what": f"{key} {value}", "etag": "", "size": None}
                for key, value in sorted(step["outputs"].items())]
    return out


def _values(step: dict) -> list:
    return [str(v) for v in step["outputs"].values()]


def _read_uris(step: dict) -> list:
    return [read["uri"] for read in step["inputs"]] + [o["uri"] for read in step["inputs"] for o in read["objects"]]


def made_by(run: RunLineage, name: str) -> list:
    """The steps the step's data came from, back to the data no step of the run made: `name` last, each step after
    the steps whose outputs it read (an output that is the read URI, or the prefix it is under)."""
    chain: list = []

    def walk(current: str) -> None:
        if current in chain:
            return
        for uri in _read_uris(run.steps[current]):
            for other, step in run.steps.items():
                if other != current and any(uri.startswith(v) for v in _values(step) if v.startswith("s3://")):
                    walk(other)
        chain.append(current)

    walk(name)
    return chain


def model_origin(runs: list, group: str, version: int) -> tuple[RunLineage, list]:
    """(the run, its steps from the data to the step) that made version `version` of `group`: the step whose output
    is that version's ARN (SageMaker's `.../model-package/GROUP/N`, the local registry's the same shape)."""
    suffix = f":model-package/{group.lower()}/{version}"
    for run in runs:
        for name, step in run.steps.items():
            if any(v.lower().endswith(suffix) for v in _values(step)):
                return run, made_by(run, name)
    raise WaterError(f"no recorded run made version {version} of model group '{group}'")


def readers(runs: list, uri: str) -> list:
    """Rows of the steps that read `uri` (an object, or a prefix: everything under it), newest run first; an input
    recorded by count only (more objects than are listed) matches when `uri` is under it."""
    out = []
    for run in runs:
        for name, step in run.steps.items():
            for read in step["inputs"]:
                hits = [o for o in read["objects"] if o["uri"] == uri or o["uri"].startswith(uri.rstrip("/") + "/")]
                partial = read["count"] > len(read["objects"]) and uri.startswith(read["uri"])
                out += [{"run": run.run, "step": name, "kind": step["kind"], "io": "read", "what": o["uri"],
                         "etag": o["etag"], "size": o["size"]} for o in hits]
                if partial and not hits:
                    out.append({"run": run.run, "step": name, "kind": step["kind"], "io": "read",
                                "what": f"{read['uri']} (of {read['count']} objects)",
                                "etag": f"digest {read['digest'][:16]}", "size": read["bytes"]})
    return out


def header(run: RunLineage) -> str:
    said = [f"run {run.run} of {run.pipeline}"]
    if run.commit:
        said.append(f"commit {run.commit}" + (f" ({run.branch})" if run.branch else ""))
    if run.spec_hash:
        said.append(f"spec {run.spec_hash[:12]}")
    return ", ".join(said)


def as_data(run: RunLineage, steps: list | None = None) -> dict:
    """A run (or the chain of `steps`) as `-o json` prints it."""
    return {"pipeline": run.pipeline, "run": run.run, "specHash": run.spec_hash, "commit": run.commit,
            "branch": run.branch, "steps": [{"step": n, **run.steps[n]} for n in steps or run.steps]}


def _priced(kind: str) -> bool:
    from water.steps import KINDS

    return kind in KINDS and KINDS[kind].priced


def costs(runs: list, since: str) -> dict:
    """What the recorded runs since `since` (an RFC 3339 time) cost, from their priced steps: per run (newest
    first), per step, and in all; steps that could not be priced are counted, not guessed."""
    per_run: list = []
    per_step: dict = {}
    unpriced = 0
    for run in runs:
        if run.started and run.started < since:
            continue
        priced = {name: float(step["outputs"]["cost"]) for name, step in run.steps.items()
                  if step["outputs"].get("cost") not in (None, "")}
        unpriced += sum(1 for step in run.steps.values() if _priced(step["kind"]) and "cost" not in step["outputs"])
        for name, usd in priced.items():
            per_step[name] = per_step.get(name, 0.0) + usd
        per_run.append({"run": run.run, "started": run.started, "usd": round(sum(priced.values()), 6)})
    return {"since": since, "runs": per_run, "steps": {k: round(v, 6) for k, v in sorted(per_step.items())},
            "usd": round(sum(r["usd"] for r in per_run), 6), "unpriced": unpriced}
