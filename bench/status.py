"""`water status` at namespace scale, against the test API server (tests/kubeapi.py) on 127.0.0.1 (run on demand):
requests, bytes answered and seconds of the namespace view and of `status NAME`, for P pipelines of R finished runs
each (N nodes a run), beside a peer in the same run: one plain full list of the same runs, which is what any
reader of the runs' status must at least download.

    python bench/status.py [--pipelines 50] [--runs 500] [--nodes 40] [--latency-ms 0]

Goal (issue 16): a constant number of list requests per namespace, <= 0.5 s for 50 x 500 on the test server.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from kubeapi import ARGO, CORE, RunningApiServer  # noqa: E402

WORKFLOWS = "argoproj.io/v1alpha1/workflows"


def populate(api, pipelines: int, runs: int, nodes: int) -> None:
    labels = {"app.kubernetes.io/managed-by": "water"}
    for p in range(pipelines):
        name = f"p{p:03d}"
        meta = {"name": name, "labels": {**labels, "water/pipeline": name}}
        api.put("argoproj.io/v1alpha1/workflowtemplates", "ml", {"metadata": meta, "spec": {"templates": []}})
        api.put("argoproj.io/v1alpha1/cronworkflows", "ml", {"metadata": meta, "spec": {
            "schedules": ["0 3 * * *"], "timezone": "Asia/Tokyo", "workflowSpec": {}}})
        for r in range(runs):
            run = f"{name}-{r:05d}"
            api.put(WORKFLOWS, "ml", {
                "metadata": {"name": run, "labels": {**labels, "water/pipeline": name,
                                                     "workflows.argoproj.io/phase": "Succeeded"}},
                "spec": {"workflowTemplateRef": {"name": name}},
                "status": {"phase": "Succeeded", "startedAt": "2026-12-01T03:00:00Z",
                           "finishedAt": "2026-12-01T03:05:00Z", "nodes": {
                               f"{run}-{i}": {"id": f"{run}-{i}", "name": f"{run}.s{i}", "displayName": f"s{i}",
                                              "type": "Pod", "phase": "Succeeded",
                                              "startedAt": "2026-12-01T03:00:00Z",
                                              "finishedAt": "2026-12-01T03:00:30Z"} for i in range(nodes)}}})


def measured(server, call) -> tuple[float, float, int, int]:
    """(seconds, of them water's own CPU, requests, bytes answered) of one call. The server is a thread of this
    process: its share of the seconds is the rest (waiting on the socket), not water's."""
    api = server.api
    requests, answered = len(api.requests), api.answered_bytes
    started, cpu = time.perf_counter(), time.thread_time()
    call()
    return (time.perf_counter() - started, time.thread_time() - cpu, len(api.requests) - requests,
            api.answered_bytes - answered)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    from water import kube, runs

    with RunningApiServer({**CORE, **ARGO}, namespaces=("ml",)) as server, tempfile.TemporaryDirectory() as tmp:
        populate(server.api, args.pipelines, args.runs, args.nodes)
        server.api.latency = args.latency_ms / 1000
        cluster = kube.KubeCluster(kube.Target(server.kubeconfig(os.path.join(tmp, "kubeconfig")), None, "ml"))
        cluster.serves("WorkflowTemplate")  # discovery once, as every command does first
        total = args.pipelines * args.runs
        print(f"{args.pipelines} pipelines x {args.runs} runs ({total} runs, {args.nodes} nodes each), "
              f"{args.latency_ms:g} ms a request")
        peer = measured(server, lambda: cluster.list("Workflow", "water/pipeline"))
        namespace = measured(server, lambda: runs.summaries(cluster))
        one = measured(server, lambda: runs.detail(cluster, "p000"))
        for label, (seconds, cpu, requests, answered) in (("peer: one full list of the runs", peer),
                                                          ("water status", namespace), ("water status p000", one)):
            print(f"  {label:<34} {seconds:6.2f} s (water's CPU {cpu:5.2f} s)  {requests:4d} requests  "
                  f"{answered / 1024 / 1024:8.2f} MiB  {seconds / peer[0]:5.2f}x the peer's time")


if __name__ == "__main__":
    main()
