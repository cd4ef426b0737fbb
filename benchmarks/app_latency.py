"""What a learner feels in the dashboard, on the CPU.

    .venv/bin/python benchmarks/app_latency.py [--redraws 200] [--polls 300] [--no-training]

1. **Latent explorer redraw**: one slider move = cached generator lookup, G forward for one z,
   nearest-neighbour enlargement to about 360 px and PNG encode — the body of the explore page's
   slider fragment (``playground.latent``), for the MLP GAN and DCGAN at 28×28 and DCGAN at 64×64
   (each preset's full model size; an untrained snapshot costs the same as a trained one). Timed
   twice: with nothing of ours running, and while a ``classroom`` training worker runs beside it
   (the situation of a learner exploring while a run trains), p50/p95. Target: p95 ≤ 50 ms at 28×28.
2. **Watch-page poll**: what the live fragment reads every poll — status.json (+ the liveness check),
   the list of grids and the newest grid's stat, the metrics lines appended since the last poll
   (``MetricsCache`` → ``Run.read_metrics(offset)``) and the log's tail — on synthetic run folders
   with 1 and 100 epochs of metrics (the default DCGAN on the full 60k Fashion-MNIST: 468 steps per
   epoch, a step line every 20 steps: 24 lines per epoch), one new line appended before each poll.
   Target: the same cost for both. For contrast, re-reading the whole file each poll.

Results go to benchmarks/results/app-latency-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import latent, speed  # noqa: E402
from playground.presets import get_preset  # noqa: E402
from playground.runs import Run, effective_state  # noqa: E402
from playground.ui import runinfo  # noqa: E402  (plain Python: the ui package's non-streamlit helpers)
from playground.ui.metrics_cache import MetricsCache  # noqa: E402
from playground.worker import train_run  # noqa: E402

EXPLORE = {  # name -> (preset, overrides)
    "mlp-28": ("gan-fashion", {}),
    "dcgan-28": ("dcgan-fashion", {}),
    "dcgan-64": ("dcgan-tutorial-64", dict(dataset="fashion-mnist", image_size=64, channels=3)),
}
SLIDER_DIMS, BIG_PX = 8, 360   # as on the explore page
STEPS_PER_EPOCH, LOG_EVERY = 468, 20


def pct(times_ms: list[float]) -> dict:
    p50, p95 = np.percentile(times_ms, [50, 95])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "n": len(times_ms)}


# ----------------------------------------------------------------------------- 1. latent redraw
def snapshot_run(tmp: Path, name: str) -> Run:
    """A run folder with an epoch-0 and epoch-1 generator snapshot of the preset's model size."""
    preset, over = EXPLORE[name]
    cfg = get_preset(preset).config(**over, epochs=1, batch_size=8, max_images=8, device="cpu",
                                    data_source="bundled", quality_samples=0, log_every=1)
    run = Run(tmp / name)
    run.create(cfg)
    if train_run(run, echo=False) != 0:
        raise SystemExit(f"{name}: could not make a snapshot, see {run.log_path}")
    return run


def redraw(run: Run, seed: int) -> bytes:
    gen = latent.load_generator(run, 1)
    k = min(SLIDER_DIMS, gen.z_dim)
    z = latent.seed_latent(gen.z_dim, seed % 7)
    z[:k] = torch.linspace(-2, 2, k) * (seed % 100) / 100   # the sliders moved
    img = latent.sample_images(gen, z)[0]
    return latent.png_fast(latent.upscale(img, latent.fit_factor(img.shape[0], BIG_PX)))


def time_redraws(runs: dict[str, Run], n: int) -> dict:
    out = {}
    for name, run in runs.items():
        for i in range(5):
            redraw(run, i)   # load into the cache, first-call costs
        times = []
        for i in range(n):
            t = time.perf_counter()
            redraw(run, i)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = pct(times)
    return out


def start_training(tmp: Path) -> subprocess.Popen:
    """A classroom run in its own process, as the dashboard starts one: every core ("auto"
    threads) at the job manager's lower priority."""
    from playground.worker import WORKER_NICE

    return subprocess.Popen([sys.executable, "-m", "playground", "train", "--preset", "classroom",
                             "--run-dir", str(tmp / "training"), "--epochs", "50", "--quiet"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=lambda: os.nice(WORKER_NICE))


# ----------------------------------------------------------------------------- 2. watch-page poll
def synthetic_run(tmp: Path, epochs: int, png: bytes, tag: str) -> Run:
    cfg = get_preset("dcgan-fashion").config(epochs=100)
    run = Run(tmp / f"watch-{epochs}-{tag}")
    run.create(cfg)
    lines, step, t = [], 0, 1.7e9
    for e in range(1, epochs + 1):
        for _ in range(STEPS_PER_EPOCH // LOG_EVERY):
            step += LOG_EVERY
            t += 1.0
            lines.append({"type": "step", "epoch": e, "step": step, "time": t, "loss_d": 1.1, "loss_g": 0.9,
                          "d_real": 0.61, "d_fake": 0.38, "score_real": 0.45, "score_fake": -0.49,
                          "grad_norm_d": 2.1, "grad_norm_g": 1.3, "images_per_s": 5120.0})
        lines.append({"type": "epoch", "epoch": e, "step": step, "time": t, "loss_d": 1.1, "loss_g": 0.9,
                      "d_real": 0.6, "d_fake": 0.4, "score_real": 0.4, "score_fake": -0.4,
                      "epoch_seconds": 11.7, "images_per_s": 5120.0,
                      "quality": {"available": True, "fd": 12.5, "confident": 0.7, "classes": 10}})
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    for e in range(epochs + 1):
        run.sample_path(e).write_bytes(png)
    run.log_path.write_text("".join(f"2026-01-01 00:00:00 Epoch {e}/100: loss_d 1.1, loss_g 0.9, 11.7 s\n"
                                    for e in range(1, epochs + 1)))
    run.write_status(state="running", epoch=epochs, epochs=100, step=step, pid=os.getpid(),
                     heartbeat=time.time(), steps_per_epoch=STEPS_PER_EPOCH, images_per_s=5120.0)
    return run


def _status(run, cache):
    effective_state(run.read_status())


def _grids(run, cache):
    epochs = run.sample_epochs()
    if epochs:
        run.sample_path(epochs[-1]).stat()


def _new_metrics(run, cache):
    cache.update(run)


def _log_tail(run, cache):
    runinfo.log_tail(run)


def _all_metrics(run, cache):   # for contrast: what a poll would cost re-reading the whole file
    run.read_metrics(0)


# One live poll of the watch page's fragment: its reads, in its order (drawing is the browser's).
POLL_PARTS = {"status": _status, "grid_list_and_stat": _grids, "new_metrics": _new_metrics,
              "log_tail": _log_tail}


def time_polls(run: Run, n: int, parts: dict) -> dict:
    cache = MetricsCache()
    lines_at_start = sum(1 for _ in open(run.metrics_path))
    for part in parts.values():   # the page's first draw reads everything once
        part(run, cache)
    line = json.dumps({"type": "step", "epoch": 1, "step": 0, "time": 0.0, "loss_d": 1.0, "loss_g": 1.0}) + "\n"
    total, each = [], {k: [] for k in parts}
    for _ in range(n):
        with open(run.metrics_path, "a") as f:   # the worker logged a step since the last poll
            f.write(line)
        t0 = time.perf_counter()
        for name, part in parts.items():
            t = time.perf_counter()
            part(run, cache)
            each[name].append((time.perf_counter() - t) * 1000)
        total.append((time.perf_counter() - t0) * 1000)
    return {**pct(total), "parts": {k: pct(v) for k, v in each.items()}, "metrics_lines": lines_at_start,
            "metrics_bytes": run.metrics_path.stat().st_size}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redraws", type=int, default=200)
    ap.add_argument("--polls", type=int, default=300)
    ap.add_argument("--no-training", action="store_true", help="skip the redraws beside a training worker")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / f"app-latency-cpu-{speed.physical_cores()}core.json"))
    args = ap.parse_args()
    doc = {"device": f"cpu-{speed.physical_cores()}core", "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "command": "python benchmarks/app_latency.py " + " ".join(sys.argv[1:]), "loadavg_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        runs = {name: snapshot_run(tmp, name) for name in EXPLORE}
        doc["redraw"] = time_redraws(runs, args.redraws)
        if not args.no_training:
            proc = start_training(tmp)
            try:
                time.sleep(15)   # past data loading and the first grid: the worker is in its hot loop
                doc["redraw_while_training"] = time_redraws(runs, args.redraws)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        png = runs["dcgan-28"].sample_path(0).read_bytes()
        doc["poll"] = {}
        for epochs in (1, 100):
            doc["poll"][f"{epochs}_epochs"] = time_polls(synthetic_run(tmp, epochs, png, "poll"), args.polls,
                                                         POLL_PARTS)
            doc["poll"][f"{epochs}_epochs_full_reread"] = time_polls(synthetic_run(tmp, epochs, png, "full"),
                                                                     args.polls, {"all_metrics": _all_metrics})
    doc["loadavg_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")

    print("| latent redraw (G forward + 360 px PNG) | p50 ms | p95 ms | p50 ms beside training | p95 ms beside training |")
    print("|---|---|---|---|---|")
    for name, r in doc["redraw"].items():
        w = doc.get("redraw_while_training", {}).get(name, {})
        print(f"| {name} | {r['p50_ms']} | {r['p95_ms']} | {w.get('p50_ms', '–')} | {w.get('p95_ms', '–')} |")
    print("\n| watch-page poll | metrics lines | p50 ms | p95 ms | p50 of each part (ms) |\n|---|---|---|---|---|")
    for key, r in doc["poll"].items():
        parts = ", ".join(f"{k} {v['p50_ms']}" for k, v in r["parts"].items())
        print(f"| {key.replace('_', ' ')} | {r['metrics_lines']} | {r['p50_ms']} | {r['p95_ms']} | {parts} |")
    print(f"\nload average {doc['loadavg_before'][0]:.1f} -> {doc['loadavg_after'][0]:.1f}; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
