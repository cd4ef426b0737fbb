"""The same batch of tiny training jobs through the local backend and through Ray clusters of 1, 2
and 3 simulated nodes on this machine: time until all finish, and each job's wait.

    python benchmarks/cluster.py                      # 12 three-epoch CPU runs; writes benchmarks/cluster.{md,json}
    python benchmarks/cluster.py --jobs 4 --nodes 1   # a quick look

Every job is submitted through playground.jobs.JobManager, as the dashboard and ``python -m
playground jobs submit`` do. A job's wait is the time from its submission until its trainer started
(status.json's ``started``): the queue, plus starting Python and PyTorch and loading the data. The
Ray nodes are ``ray.cluster_utils.Cluster`` nodes on this one machine, each with one CPU and one
"training_slot"; the head node offers no CPU, so it trains nothing. Needs requirements-cluster.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.config import TrainConfig  # noqa: E402
from playground.jobs import JobManager  # noqa: E402

SLOT = {"training_slot": 1}
# A tiny CPU run: the 2D ring, 3 epochs of 32 steps, one thread, no quality scoring.
JOB = dict(dataset="ring", arch="toy", max_images=2048, batch_size=64, epochs=3, z_dim=2, g_hidden=(64, 64),
           d_hidden=(64, 64), log_every=8, device="cpu", threads=1, snapshot_schedule="1", quality_samples=0,
           sample_count=16)


def job_config(i: int) -> TrainConfig:
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **JOB, "seed": i, "name": f"bench {i}"}).validate()


def run_batch(manager: JobManager, n: int, timeout: float) -> dict:
    submitted = {}
    t0 = time.time()
    runs = []
    for i in range(n):
        submitted[i] = time.time()
        runs.append(manager.submit(job_config(i), f"job{i:02d}"))
    while time.time() - t0 < timeout:
        if all(r.state() in ("finished", "failed", "stopped", "interrupted") for r in runs):
            break
        time.sleep(0.2)
    ends, waits, states = [], [], []
    for i, r in enumerate(runs):
        status = r.read_status()
        states.append(r.state())
        waits.append(round(float(status.get("started") or float("nan")) - submitted[i], 2))
        ends.append(float(status.get("updated") or float("nan")))
    return {"jobs": n, "all_finished": all(s == "finished" for s in states), "states": states,
            "makespan_s": round(max(ends) - t0, 1), "waits_s": waits,
            "median_wait_s": round(statistics.median(waits), 1), "max_wait_s": round(max(waits), 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_batch(nodes: int, n: int, timeout: float, workdir: Path) -> dict:
    from ray.cluster_utils import Cluster
    from ray.job_submission import JobSubmissionClient

    from playground.cluster import RayBackend

    os.environ.setdefault("RAY_JOB_START_TIMEOUT_SECONDS", "3600")
    c = Cluster(initialize_head=True, head_node_args=dict(num_cpus=0, include_dashboard=True,
                                                          dashboard_host="127.0.0.1", dashboard_port=_free_port()))
    try:
        for _ in range(nodes):
            c.add_node(num_cpus=1, resources=SLOT)
        url = "http://" + c.webui_url
        deadline = time.monotonic() + 60
        while True:
            try:
                JobSubmissionClient(url)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        manager = JobManager(workdir / f"ray{nodes}", backend="ray",
                             cluster=RayBackend(address=url, resources=SLOT))
        return {"backend": "ray", "nodes": nodes, **run_batch(manager, n, timeout)}
    finally:
        c.shutdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--nodes", default="1,2,3", help="Ray cluster sizes to try (comma-separated)")
    ap.add_argument("--local-slots", default="1,2", help="the local backend's job limits to try")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "cluster"), help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)

    results = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        for slots in [int(x) for x in args.local_slots.split(",") if x]:
            manager = JobManager(Path(tmp) / f"local{slots}", max_jobs=slots, backend="local")
            results.append({"backend": "local", "max_jobs": slots, **run_batch(manager, args.jobs, args.timeout)})
            print(json.dumps(results[-1]), flush=True)
        for nodes in [int(x) for x in args.nodes.split(",") if x]:
            results.append(ray_batch(nodes, args.jobs, args.timeout, Path(tmp)))
            print(json.dumps(results[-1]), flush=True)

    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    Path(args.out + ".json").write_text(json.dumps({"job": JOB, "machine": machine, "results": results},
                                                   indent=2) + "\n")
    lines = [f"# Cluster benchmark: {args.jobs} tiny CPU jobs ({JOB['epochs']} epochs of the 2D ring, one thread each)",
             "", f"`python benchmarks/cluster.py` on {machine['cpus']} CPUs ({machine['platform']}). A job's wait: "
             "submission until its trainer started (queue + Python/PyTorch start + data). Load average "
             f"(1, 5, 15 min) before: {machine['load_average_before']}, after: {machine['load_average_after']}.", "",
             "| backend | slots | all finished | time until all finished (s) | median wait (s) | longest wait (s) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        slots = f"{r['max_jobs']} (max_jobs)" if r["backend"] == "local" else f"{r['nodes']} node(s) × 1 slot"
        lines.append(f"| {r['backend']} | {slots} | {'yes' if r['all_finished'] else 'NO'} | {r['makespan_s']} | "
                     f"{r['median_wait_s']} | {r['max_wait_s']} |")
    lines += ["", "Each job's wait (s), in submission order:", ""]
    for r in results:
        name = f"local, max_jobs {r['max_jobs']}" if r["backend"] == "local" else f"ray, {r['nodes']} node(s)"
        lines.append(f"- {name}: {', '.join(f'{w:g}' for w in r['waits_s'])}")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
