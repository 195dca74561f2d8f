"""What a step's AWS job cost, in USD, from the billable figures of the job description the step already polled:
Athena's DataScannedInBytes, Glue's DPUSeconds (else ExecutionTime × the run's DPUs), SageMaker's
BillableTimeInSeconds × InstanceCount (training: botocore's documentation of DescribeTrainingJob says to multiply
them) and a transform job's start-to-end time × its instances. Priced with water's dated table (prices.json: its
source and date are in it) for the region, under spec.aws.prices (the user's own figures, which win)."""
from __future__ import annotations

import functools
import json
import math
import os
from typing import Any

from water.contract import COST

ATHENA_MINIMUM = 10 * 2**20  # Athena bills at least 10 MB per query, rounded up to the MB
TB = 2**40
GLUE_MINIMUM = 60  # seconds: Glue 2.0 and later bill at least a minute per run
DPU_PER_WORKER = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "Z.2X": 2}


@functools.cache
def _shipped() -> dict:
    with open(os.path.join(os.path.dirname(__file__), "prices.json"), encoding="utf-8") as f:
        return json.load(f)


def prices(region: str | None, overrides: dict | None = None) -> dict:
    """The region's prices (a region the table names as another's takes that one's), the user's over them; {} for a
    region the table does not know and the user did not price."""
    regions = _shipped()["regions"]
    found = regions.get(region or "us-east-1", {})
    while isinstance(found, str):
        found = regions[found]
    mine = overrides or {}
    return {**found, **{k: v for k, v in mine.items() if not isinstance(v, dict)},
            **{k: {**found.get(k, {}), **v} for k, v in mine.items() if isinstance(v, dict)}}


def _money(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def athena(statistics: dict, table: dict) -> str | None:
    if "athenaPerTb" not in table or "DataScannedInBytes" not in statistics:
        return None
    billed = max(ATHENA_MINIMUM, math.ceil(statistics["DataScannedInBytes"] / 2**20) * 2**20)
    return _money(billed / TB * table["athenaPerTb"])


def glue(run: dict, table: dict) -> str | None:
    if "gluePerDpuHour" not in table:
        return None
    if run.get("DPUSeconds"):
        dpu_seconds = float(run["DPUSeconds"])
    elif "ExecutionTime" in run:
        dpus = (DPU_PER_WORKER.get(run.get("WorkerType", ""), 0) * run.get("NumberOfWorkers", 0)
                or run.get("MaxCapacity") or 0)
        dpu_seconds = max(GLUE_MINIMUM, run["ExecutionTime"]) * dpus
    else:
        return None
    return _money(dpu_seconds / 3600 * table["gluePerDpuHour"])


def training(job: dict, table: dict) -> str | None:
    config = job.get("ResourceConfig") or {}
    hourly = (table.get("training") or {}).get(config.get("InstanceType", ""))
    if hourly is None or "BillableTimeInSeconds" not in job:
        return None
    return _money(job["BillableTimeInSeconds"] * config.get("InstanceCount", 1) / 3600 * hourly)


def transform(job: dict, table: dict) -> str | None:
    resources = job.get("TransformResources") or {}
    hourly = (table.get("inference") or {}).get(resources.get("InstanceType", ""))
    if hourly is None or not (job.get("TransformStartTime") and job.get("TransformEndTime")):
        return None
    seconds = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
    return _money(seconds * resources.get("InstanceCount", 1) / 3600 * hourly)


def priced(outputs: dict, usd: str | None) -> dict:
    """A step's outputs with its cost, when it could be priced."""
    return {**outputs, COST: usd} if usd is not None else outputs


def of_job(job: Any) -> dict:
    """The prices a pod's step is priced with: its region's, and spec.aws.prices."""
    aws = job.config.get("aws") or {}
    return prices(aws.get("region") or job.env.get("AWS_REGION") or job.env.get("AWS_DEFAULT_REGION"),
                  aws.get("prices"))
