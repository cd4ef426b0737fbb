"""Time one latent-explorer redraw on the CPU: cached-generator lookup, G forward for one z,
nearest-neighbour enlargement and PNG encode (what a slider move costs the server).

    .venv/bin/python benchmarks/latent_redraw.py [--repeats 200]

Trains a one-epoch run of each architecture on 64 bundled MNIST images (the preset's full model
size, 28×28) in a temporary folder, then times the redraw and prints p50 / p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground import latent  # noqa: E402
from playground.presets import get_preset  # noqa: E402
from playground.runs import Run  # noqa: E402
from playground.worker import train_run  # noqa: E402


def redraw(run: Run, epoch: int, seed: int, target_px: int = 360) -> bytes:
    gen = latent.load_generator(run, epoch)
    z = latent.seed_latent(gen.z_dim, seed)
    z[0] = 0.01 * seed            # a slider moved
    img = latent.sample_images(gen, z)[0]
    return latent.png_fast(latent.upscale(img, latent.fit_factor(img.shape[0], target_px)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("gan-mnist", "dcgan-mnist"):
            cfg = get_preset(preset).config(epochs=1, max_images=64, device="cpu", data_source="bundled",
                                            log_every=1)
            run = Run(Path(tmp) / preset)
            run.create(cfg)
            if train_run(run, echo=False) != 0:
                raise SystemExit(f"{preset}: training failed, see {run.log_path}")
            for i in range(5):                # warm-up: load into the cache, first-call costs
                redraw(run, 1, i)
            times = []
            for i in range(args.repeats):
                t = time.perf_counter()
                png = redraw(run, 1, i)
                times.append((time.perf_counter() - t) * 1000)
            p50, p95 = np.percentile(times, [50, 95])
            print(f"{preset:12s} ({cfg.arch}, z_dim {cfg.z_dim}, 28x28 -> 364 px PNG of {len(png)} bytes): "
                  f"p50 {p50:.2f} ms, p95 {p95:.2f} ms over {args.repeats} redraws")


if __name__ == "__main__":
    main()
