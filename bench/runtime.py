"""Step runtime figures, against moto's server on 127.0.0.1 (run on demand, not in the tests):

- process start to the first AWS request of `water-job athena` and `check` (goal <= 0.5 s), median of N;
- peak RSS of `water-job athena`, `glue`, `size` and `check` over 20,000 CSV rows (goal <= 80 MB);
- describe calls per job-minute after the first minute, from the real poller on a virtual clock (goal <= 6);
- how late a step sees its job end, same poller and clock, 2,000 jobs of random length under 10 minutes (goal:
  mean <= 10 s) and 2,000 of 10 minutes to 6 hours (goal: mean <= 5% of the job's length);
- `size` over 100,000 objects: objects/s, beside a plain single-threaded boto3 list loop in the same run.

    python bench/runtime.py [--runs 7] [--objects 100000]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HOOK = """
import atexit, os, time

def _first(request, **_):
    path = os.environ.get("WATER_BENCH_FIRST")
    if path and not os.path.exists(path):
        with open(path, "w") as f:
            f.write(repr(time.time()))

def _peak():  # this process's own high-water mark (wait4's ru_maxrss counts the forked parent's pages too)
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["WATER_BENCH_RSS"], "w") as f:
        f.write(str(kib))

HOOKS.append(("before-send", _first))
atexit.register(_peak)
"""
# water-job with the hooks above on its AWS clients (water.runtime.aws.Clients, passed in)
LAUNCH = """
import sys
from water.runtime import aws
from water.runtime.main import main
HOOKS = []
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"))
sys.exit(main(sys.argv[2:], clients=aws.Clients(HOOKS)))
"""


def config(kind: str, **extra) -> str:
    base = {"pipeline": "bench", "step": "s", "kind": kind, "timeout": 600, **extra}
    return base64.b64encode(json.dumps(base).encode()).decode()


def run(argv: list, env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one water-job process."""
    rss_file = os.path.join(env["WATER_BENCH_DIR"], "rss")
    start = time.perf_counter()
    done = subprocess.run(argv, env={**env, "WATER_BENCH_RSS": rss_file}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"failed: {argv[4]}: {done.stderr.decode()[-500:]}")
    with open(rss_file) as f:
        return wall, int(f.read()) / 1024


def _wait_for(end: float, timeout: float = 10 ** 7) -> tuple[float, list]:
    """(when the real poller, on a virtual clock, saw a job that ends at `end` seconds; its describe times)."""
    from water.runtime import poll

    now, calls = [0.0], []

    def check():
        calls.append(now[0])
        return "ended" if now[0] >= end else None

    def sleep(seconds):
        now[0] += seconds

    try:
        poll.wait(check, timeout=timeout, interval=poll.job_interval, clock=lambda: now[0], sleep=sleep)
    except poll.Timeout:
        pass
    return now[0], calls


def describe_calls_per_minute(minutes: int = 30) -> float:
    _, calls = _wait_for(float("inf"), timeout=minutes * 60)
    return sum(1 for t in calls if t >= 60) / (minutes - 1)


def detection_delays(jobs: int = 2000) -> dict:
    """How late a step sees its job end: jobs of random lengths (seeded), under and over 10 minutes."""
    import random

    rnd = random.Random(14)
    short = [_wait_for(end)[0] - end for end in (rnd.uniform(1, 600) for _ in range(jobs))]
    long = [(seen - end) / end for end, seen in ((end, _wait_for(end)[0]) for end in
                                                 (rnd.uniform(600, 6 * 3600) for _ in range(jobs)))]
    return {"short_mean": statistics.mean(short), "short_p95": statistics.quantiles(short, n=20)[-1],
            "long_mean_share": statistics.mean(long), "long_p95_share": statistics.quantiles(long, n=20)[-1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    work = tempfile.mkdtemp()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "WATER_RUN_ID": "bench-1",
           "WATER_OUTPUTS_DIR": os.path.join(work, "out"), "WATER_BENCH_DIR": work}
    env.pop("DD_AGENT_HOST", None)
    os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_DEFAULT_REGION")})
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench")
    boto3.client("glue").create_job(Name="bench-job", Role="arn:aws:iam::123456789012:role/g",
                                    Command={"Name": "glueetl", "ScriptLocation": "s3://bench/job.py"})
    hooks = os.path.join(work, "hooks.py")
    with open(hooks, "w") as f:
        f.write(HOOK)
    water_job = [sys.executable, "-c", LAUNCH, hooks]
    athena = water_job + ["athena", "--config", config("athena", spec={
        "database": "d", "query": "SELECT 1", "output": "s3://bench/{{run.id}}/a/"})]
    glue = water_job + ["glue", "--config", config("glue", spec={"job": "bench-job", "output": "s3://bench/g/"})]
    size_argv = water_job + ["size", "--config", config("size", step="s", tiers=[{"resources": {"cpu": "1"}}],
                                                       resources={"cpu": "1", "memory": "1Gi"}, sizes="pod",
                                                       **{"from": "up"}),
                             "--refs", json.dumps({"steps.up.output": "s3://bench/objects/"})]
    rows = "id,x,label\n" + "".join(f"{i},{i % 97 / 7:.4f},{i % 3}\n" for i in range(20_000))
    s3.put_object(Bucket="bench", Key="table/part-0.csv", Body=rows.encode())
    check = water_job + ["check", "--config", config("check", spec={
        "data": "s3://bench/table/", "output": "s3://bench/{{run.id}}/c/", "format": "csv", "onFail": "fail",
        "maxBytes": 1 << 30, "rules": [
            {"rows": {"min": 1}}, {"nulls": {"*": 0}}, {"unique": ["id"]}, {"values": {"label": [0, 1, 2]}},
            {"range": {"x": {"min": 0, "max": 14}}}]})]

    first, rss = {"athena": [], "check": []}, {"athena": [], "glue": [], "size": [], "check": []}
    for i in range(args.runs):
        for kind, argv in (("athena", athena), ("check", check)):
            marker = os.path.join(work, f"first-{kind}-{i}")
            run_env = {**env, "WATER_BENCH_FIRST": marker, "WATER_RUN_ID": f"bench-{i}"}
            started = time.time()
            _, peak = run(argv, run_env)
            with open(marker) as f:
                first[kind].append(float(f.read()) - started)
            rss[kind].append(peak)
        rss["glue"].append(run(glue, {**env, "WATER_RUN_ID": f"bench-{i}"})[1])
        rss["size"].append(run(size_argv, env)[1])

    from moto.backends import get_backend

    bucket = get_backend("s3")["123456789012"]["global"]
    for i in range(args.objects):  # in the server's own process: fast to fill, listed over HTTP
        bucket.put_object("bench", f"objects/part-{i:06d}.csv", b"x" * 10)
    wall_size, _ = run(size_argv, env)
    started = time.perf_counter()
    listed = sum(len(page.get("Contents", ())) for page in
                 s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="objects/"))
    wall_plain = time.perf_counter() - started
    server.stop()
    print(f"{args.runs} runs against moto's server on 127.0.0.1")
    print("| figure | value | goal |")
    print("|---|---|---|")
    for kind, values in first.items():
        print(f"| start to first AWS request, {kind} (median) | {statistics.median(values):.3f} s | <= 0.5 s |")
    for kind, values in rss.items():
        print(f"| peak RSS, {kind} (median) | {statistics.median(values):.0f} MiB | <= 80 MiB |")
    print(f"| describe calls per job-minute after the first | {describe_calls_per_minute():.1f} | <= 6 |")
    delays = detection_delays()
    print(f"| job end seen late, jobs under 10 min: mean / p95 | {delays['short_mean']:.1f} s / "
          f"{delays['short_p95']:.1f} s | mean <= 10 s |")
    print(f"| job end seen late, jobs of 10 min to 6 h: mean / p95, share of the job's length | "
          f"{delays['long_mean_share']:.1%} / {delays['long_p95_share']:.1%} | mean <= 5% |")
    print(f"| size over {args.objects:,} objects | {args.objects / wall_size:,.0f} objects/s ({wall_size:.1f} s, "
          f"whole process) | |")
    print(f"| plain boto3 list loop, same objects | {listed / wall_plain:,.0f} objects/s ({wall_plain:.1f} s) | |")
    print(f"| size / plain loop | {(args.objects / wall_size) / (listed / wall_plain):.2f}x | |")


if __name__ == "__main__":
    main()
