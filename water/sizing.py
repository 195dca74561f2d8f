"""Sizing: measure what a step produced, pick the tier, say so in one line."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from water.runtime.job import Job


@dataclass(frozen=True)
class Decision:
    bytes: int
    objects: int
    index: int  # 0-based tier index
    tier: dict  # the tier as plain data (upTo, resources, parallelism, nodeSelector, instance)

    @property
    def shards(self) -> int:
        return self.tier.get("parallelism") or 1

    def describe(self, step: str) -> str:
        parts = []
        resources = self.tier.get("resources") or {}
        parts += [f"{k} {resources[k]}" for k in ("cpu", "memory", "gpu") if k in resources]
        instance = self.tier.get("instance")
        if instance:
            parts.append(f"{instance.get('count', 1)} x {instance['type']}")
        if self.shards > 1:
            parts.append(f"{self.shards} shards")
        return (f"{step}: {human_bytes(self.bytes)} in {self.objects} object{'s' if self.objects != 1 else ''} "
                f"-> tier {self.index + 1}: {', '.join(parts)}")


class SizeTask:
    """Measure the upstream output on S3 and pick the sized step's tier (water's own task before it)."""

    def run_cluster(self, job: Job) -> dict:
        from water.runtime import aws
        from water.runtime.job import BadInput

        config = job.config
        source = job.refs.get(f"steps.{config['from']}.{config.get('measure', 'output')}", "")
        if not source.startswith("s3://"):
            raise BadInput(f"the output of {config['from']} is not an S3 URI: {source!r}")
        size, objects = aws.measure_prefix(job.client("s3"), source)
        decision = choose(config["tiers"], size, objects)
        print(decision.describe(config["step"]), flush=True)
        instance = decision.tier.get("instance") or {}
        return {"tier": decision.index + 1, "bytes": size, "objects": objects,
                "shards": json.dumps([f"{i}/{decision.shards}" for i in range(decision.shards)]),
                "pod-patch": json.dumps(pod_patch(config["resources"], decision.tier), sort_keys=True),
                "instance-type": instance.get("type", ""), "instance-count": instance.get("count", "")}


def pod_patch(base: dict, tier: dict) -> dict:
    """The podSpecPatch of a sized step: the tier's resources over the step's own, requests = limits."""
    amounts = {k: v for k, v in {**base, **(tier.get("resources") or {})}.items() if k in ("cpu", "memory")}
    gpu = (tier.get("resources") or {}).get("gpu", base.get("gpu"))
    if gpu:
        amounts["nvidia.com/gpu"] = gpu
    patch: dict = {"containers": [{"name": "main", "resources": {"requests": amounts, "limits": amounts}}]}
    if tier.get("nodeSelector"):
        patch["nodeSelector"] = tier["nodeSelector"]
    return patch


SIZE_TASK = SizeTask()


def choose(tiers: list, size: int, objects: int) -> Decision:
    """The first tier whose upTo holds `size` bytes; the last tier takes everything larger."""
    for i, tier in enumerate(tiers):
        if tier.get("upTo") is None or size <= tier["upTo"]:
            return Decision(size, objects, i, tier)
    return Decision(size, objects, len(tiers) - 1, tiers[-1])


def measure_folder(path: str) -> tuple[int, int]:
    """(bytes, files) under a local folder, or of one file; (0, 0) if nothing is there."""
    if os.path.isfile(path):
        return os.path.getsize(path), 1
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
            count += 1
    return total, count


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
