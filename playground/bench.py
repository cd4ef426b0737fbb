"""``python -m playground bench``: the project's training step against the textbook loop.

Both run in this one process on the same device, with the same G and D (``build_models`` of the
preset's config), the same batch size and the same Adam settings, timed in alternating windows of K
steps (reference, project, project, reference, …) so that a machine whose load changes treats both
alike; the figures are medians over the windows.

The reference is the loop of the PyTorch DCGAN example as the course reports ran it: a dataset that
turns each uint8 image into a PIL image and then a tensor (``ToTensor`` + ``Normalize``, and
``Resize`` for 64 px, as torchvision's MNIST and the example do), a ``DataLoader`` with worker
processes, two backward passes for D, ``.item()`` on the losses and D's outputs every step, fp32,
torch's default thread count. Its workers are started before timing (not counted against it).

The project side is the real ``Trainer.train_epoch`` on a run folder, with the preset's settings and
every speed default (``playground/speed.py``), metric lines and status writes included; only the
end-of-epoch outputs (grid, snapshot, checkpoint) are left out, as they are from the reference.

Also reported: the FLOPs per image of one step of each loop (``FlopCounterMode``: matrix products
and convolutions), and what share of a measured matmul peak of the device each loop achieves with
its own count, against the peak of its own precision (fp32 for the textbook loop; bf16 for the
project's where it runs bf16 autocast, as on CUDA by default), the better of two measurements,
before and after the models. The project's count is lower than the textbook's by D's weight
gradients in G's update, which the project does not compute (they would be thrown away), so its
share is of the work it does, not of the textbook's. And a bound:
the images/s the project's step would reach if its matrix products and convolutions, each timed on
its own with its inputs hot in cache, were all it did.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from . import speed
from .config import TrainConfig
from .data import BUNDLED_DIR, BUNDLED_FILES, load_dataset
from .models import build_models
from .models.layers import plain_torch_layers
from .presets import get_preset
from .runs import Run
from .training import Hooks, Trainer, model_spec, pick_device

# name -> (preset, overrides): the three models of the issue, on the bundled Fashion-MNIST subset
MODELS = {
    "mlp-28": ("gan-fashion", {}),
    "dcgan-28": ("dcgan-fashion", {}),
    "dcgan-64": ("dcgan-tutorial-64", dict(dataset="fashion-mnist", data_source="bundled", image_size=64,
                                           channels=3)),
}


# ----------------------------------------------------------------------------- the textbook loop
class TextbookImages(torch.utils.data.Dataset):
    """uint8 [N, 28, 28] images served as torchvision's MNIST does: PIL image -> transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: int, channels: int):
        import torchvision.transforms as T

        self.images, self.labels, self.rgb = images, labels, channels == 3
        steps = [T.Resize(size), T.CenterCrop(size)] if size != images.shape[1] else []
        self.transform = T.Compose(steps + [T.ToTensor(), T.Normalize((0.5,) * channels, (0.5,) * channels)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        img = Image.fromarray(self.images[i], mode="L")
        return self.transform(img.convert("RGB") if self.rgb else img), int(self.labels[i])


class Textbook:
    """The PyTorch DCGAN example's step on our (logit-output) models."""

    def __init__(self, cfg: TrainConfig, info, device, workers: int):
        d = np.load(BUNDLED_DIR / BUNDLED_FILES["fashion-mnist"])
        ds = TextbookImages(d["images"], d["labels"], info.image_size, info.channels)
        self.loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                                  num_workers=workers, persistent_workers=workers > 0)
        self.batches = self._forever()
        next(self.batches)  # starts the workers
        self.cfg, self.info, self.device = cfg, info, device

    def _forever(self):
        while True:
            yield from self.loader

    def build(self):
        cfg, dev = self.cfg, self.device
        torch.manual_seed(cfg.seed)
        # the example's own torch.nn layers (the project's faster layer forms turned back into them)
        self.G, self.D = (plain_torch_layers(m).to(dev) for m in build_models(model_spec(cfg, self.info)))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                                      weight_decay=cfg.weight_decay)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                      weight_decay=cfg.weight_decay)
        return self

    def step(self):
        G, D, dev = self.G, self.D, self.device
        real = next(self.batches)[0].to(dev)
        b = real.shape[0]
        D.zero_grad()
        label = torch.full((b,), 1.0, device=dev)
        out = D(real)
        err_real = F.binary_cross_entropy_with_logits(out, label)
        err_real.backward()
        d_x = out.sigmoid().mean().item()
        fake = G(torch.randn(b, self.cfg.z_dim, device=dev))
        label.fill_(0.0)
        out = D(fake.detach())
        err_fake = F.binary_cross_entropy_with_logits(out, label)
        err_fake.backward()
        d_g_z1 = out.sigmoid().mean().item()
        err_d = err_real + err_fake
        self.opt_d.step()
        G.zero_grad()
        label.fill_(1.0)
        out = D(fake)
        err_g = F.binary_cross_entropy_with_logits(out, label)
        err_g.backward()
        d_g_z2 = out.sigmoid().mean().item()
        self.opt_g.step()
        return err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2


# ----------------------------------------------------------------------------- the project's loop
class Project:
    """A real Trainer on a temporary run folder; ``run_epoch()`` runs one k-step epoch of its loop."""

    def __init__(self, cfg: TrainConfig, device, tmp: Path, k: int, tag: str = ""):
        data = load_dataset(cfg.dataset, image_size=cfg.image_size or None, channels=cfg.channels or None,
                            max_images=k * cfg.batch_size, seed=cfg.seed, source="bundled", device=device)
        run = Run(tmp / f"{cfg.preset}-{k}{tag}")
        run.create(cfg)
        self.trainer = Trainer(run, cfg, data, device, Hooks(on_status=lambda status: run.write_status(**status)))
        self.epoch = 0

    def run_epoch(self):
        """One epoch of the loop: its steps, step lines and status, without the end-of-epoch grid,
        snapshot and checkpoint (Trainer.finish_epoch), which the textbook loop has no match for."""
        self.epoch += 1
        self.trainer.train_epoch(self.epoch)


# ----------------------------------------------------------------------------- measuring
def sync(device):
    """Wait for the device's queued work, so a timer reads the work's time, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_peak(device, dtype=torch.float32, repeats: int = 5) -> float:
    """Best observed FLOP/s of a large square matmul on ``device`` (all of torch's threads)."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def flops_per_image(tb: Textbook) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        tb.step()
    return fc.get_total_flops() / tb.cfg.batch_size


# aten ops that carry a step's arithmetic: matrix products and convolutions
HEAVY_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward"})


class _HeavyOpRecorder(TorchDispatchMode):
    """Records each heavy op a step calls, with its arguments as (shape, stride, dtype, device)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket.__name__ in HEAVY_OPS:
            self.calls.append((func, [_describe(a) for a in args], {k: _describe(v) for k, v in kwargs.items()}))
        return func(*args, **kwargs)


def _describe(a):
    return ("tensor", tuple(a.shape), a.stride(), a.dtype, a.device) if isinstance(a, torch.Tensor) else a


def _materialise(a):
    if isinstance(a, tuple) and a and a[0] == "tensor":
        _, shape, stride, dtype, device = a
        return torch.empty_strided(shape, stride, dtype=dtype, device=device).normal_()
    return a


def time_heavy_ops_alone(calls, device, repeats: int = 7) -> float:
    """Seconds the recorded ops take when each runs on its own (median of ``repeats`` after a warm-up
    call, inputs hot in cache): what one step would cost if nothing else did."""
    total = 0.0
    for func, args, kwargs in calls:
        a = [_materialise(x) for x in args]
        kw = {k: _materialise(v) for k, v in kwargs.items()}
        func(*a, **kw)
        sync(device)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            func(*a, **kw)
            sync(device)
            times.append(time.perf_counter() - t)
        total += statistics.median(times)
    return total


def project_step_work(cfg: TrainConfig, device, tmp: Path) -> dict:
    """One step of the project's loop (uncompiled: the same arithmetic), measured two ways: its FLOPs
    per image (``FlopCounterMode``) and the images/s it would reach if its matrix products and
    convolutions, each timed alone, were all it did (``heavy_ops_alone_images_per_s``: a bound the
    real step, with its optimizer and element-wise work, cannot reach)."""
    from torch.utils.flop_counter import FlopCounterMode

    proj = Project(dataclasses.replace(cfg, compile=False), device, tmp, 1, tag="-work")
    proj.run_epoch()  # first calls out of the way
    with FlopCounterMode(display=False) as fc:
        proj.run_epoch()
    with _HeavyOpRecorder() as rec:
        proj.run_epoch()
    alone = time_heavy_ops_alone(rec.calls, device)
    return {"flops_per_image": fc.get_total_flops() / cfg.batch_size, "heavy_ops": len(rec.calls),
            "heavy_ops_alone_s": alone, "heavy_ops_alone_images_per_s": cfg.batch_size / max(alone, 1e-12)}


def device_name(device) -> str:
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return f"{device.type}-{speed.physical_cores()}core"


def model_config(name, args, device) -> tuple[TrainConfig, object]:
    """The preset's config for ``name`` (with the batch and overrides asked for) and its data's info."""
    preset, over = MODELS[name]
    cfg = get_preset(preset).config(**{**over, "device": device.type, "batch_size": args.batch,
                                       "quality_samples": 0, **args.overrides})
    info = load_dataset(cfg.dataset, image_size=cfg.image_size or None, channels=cfg.channels or None,
                        max_images=cfg.batch_size, source="bundled").info
    return cfg, info


def bench_model(name, tb: Textbook, args, device, tmp, default_threads, log):
    preset, over = MODELS[name]
    cfg = tb.cfg
    ref_threads = args.ref_threads or default_threads
    tb.build()
    torch.set_num_threads(ref_threads)
    flops = flops_per_image(tb)
    t = time.perf_counter()
    tb.step()
    sync(device)
    k = max(2, min(200, round(args.window_s / max(time.perf_counter() - t, 1e-6))))
    proj = Project(cfg, device, tmp, k)
    plan = proj.trainer.speed
    torch.set_num_threads(plan.threads or default_threads)
    work = project_step_work(cfg, device, tmp)

    def window(which: str) -> float:
        if which == "reference":
            torch.set_num_threads(ref_threads)
            t0 = time.perf_counter()
            for _ in range(k):
                tb.step()
        else:
            torch.set_num_threads(plan.threads or default_threads)
            t0 = time.perf_counter()
            proj.run_epoch()
        sync(device)
        return k * cfg.batch_size / (time.perf_counter() - t0)

    window("reference"), window("project")  # warm-up (first-call costs, allocator, cuDNN choices)
    ref, own = [], []
    for rep in range(args.repeats):
        for which in (("reference", "project") if rep % 2 == 0 else ("project", "reference")):
            (ref if which == "reference" else own).append(window(which))
        log(f"  {name} window {rep + 1}/{args.repeats}: textbook {ref[-1]:8.1f}  project {own[-1]:8.1f} img/s")
    ratios = [o / r for o, r in zip(own, ref)]
    res = {"preset": preset, "config": {k_: v for k_, v in cfg.to_dict().items() if k_ in (
               "arch", "image_size", "channels", "z_dim", "g_filters", "d_filters", "g_hidden", "d_hidden",
               "dropout", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "weight_decay")} | over,
           "steps_per_window": k, "textbook_threads": ref_threads, "textbook_workers": args.workers,
           "project_speed": plan.describe(), "flops_per_image": flops,
           "project_flops_per_image": work["flops_per_image"],
           "project_heavy_ops_per_step": work["heavy_ops"],
           "project_heavy_ops_alone_images_per_s": work["heavy_ops_alone_images_per_s"],
           "textbook_images_per_s": ref, "project_images_per_s": own,
           "textbook_median": statistics.median(ref), "project_median": statistics.median(own),
           "ratio_median_of_pairs": statistics.median(ratios), "ratios": ratios}
    if name == "dcgan-28":  # the GPU target is 100 epochs of the full 60k Fashion-MNIST
        res["projected_100_epochs_60k_s"] = 100 * 60_000 / res["project_median"]
    return res


def peak_for(peaks: dict, precision: str) -> float:
    """The matmul peak that matches a loop's precision ("fp32" or "bfloat16"): a bf16 loop measured
    against the fp32 peak would read as several times its real share on a GPU."""
    return peaks.get("bf16" if precision in ("bf16", "bfloat16") else "fp32", 0.0)


def table(results: dict, peaks: dict) -> str:
    lines = ["| model | batch | textbook img/s | project img/s | ratio | GFLOP/img textbook | GFLOP/img project | "
             "textbook % of peak | project % of peak | project's products alone img/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        f, g = r["flops_per_image"], r["project_flops_per_image"]
        # the textbook loop runs fp32; the project's at its own precision (bf16 on CUDA by default)
        pk = (peaks.get("fp32", 0.0), peak_for(peaks, r["project_speed"]["autocast"]))
        share = [100 * n * r[k] / p if p else float("nan")
                 for n, k, p in ((f, "textbook_median", pk[0]), (g, "project_median", pk[1]))]
        lines.append(f"| {name} | {r['config']['batch_size']} | {r['textbook_median']:.0f} | "
                     f"{r['project_median']:.0f} | **{r['ratio_median_of_pairs']:.2f}×** | {f / 1e9:.4f} | "
                     f"{g / 1e9:.4f} | {share[0]:.1f} | {share[1]:.1f} | "
                     f"{r['project_heavy_ops_alone_images_per_s']:.0f} |")
    return "\n".join(lines)


def build_parser(ap: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    ap = ap or argparse.ArgumentParser(
        prog="python -m playground bench",
        description="Time the project's training step against the textbook loop of the PyTorch DCGAN "
                    "example, in one process on one device; see playground/bench.py.")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5, help="timed window pairs per model")
    ap.add_argument("--window-s", type=float, default=3.0, help="about this many seconds per window")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the textbook loop")
    ap.add_argument("--ref-threads", type=int, default=0, help="threads of the textbook loop (0: torch's default)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a setting of the project's side, e.g. --set compile=true")
    ap.add_argument("--out", help="JSON results (default benchmarks/results/<device>.json)")
    return ap


def main(argv=None, args=None, command: str | None = None) -> int:
    args = args or build_parser().parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    problems = [f"unknown model {n!r} (choose from {', '.join(MODELS)})" for n in names if n not in MODELS]
    problems += [f"--set {s!r} is not FIELD=VALUE" for s in args.set if "=" not in s]
    try:
        args.overrides = dict(s.split("=", 1) for s in args.set if "=" in s)
        device = pick_device(args.device)
        if not problems:
            configs = {name: model_config(name, args, device) for name in names}
    except ValueError as e:  # ConfigError included: a bad --set value
        problems.append(str(e))
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    default_threads = torch.get_num_threads()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    load0 = os.getloadavg()
    # The textbook loaders fork their workers before anything touches the GPU (device_name() and
    # the matmul peaks below do): a forked child of a process that set up CUDA must not use it.
    textbooks = {name: Textbook(*configs[name], device, args.workers) for name in names}
    log(f"{device_name(device)}: torch {torch.__version__}, {default_threads} default threads, load {load0}")
    # bf16's peak too where any loop runs bf16 (CUDA's default): each loop's share uses its own
    bf16 = any(speed.resolve(cfg, model_spec(cfg, info), device).autocast == torch.bfloat16
               for cfg, info in configs.values())
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if bf16 else {})}
    peaks = {k: matmul_peak(device, dt) for k, dt in dtypes.items()}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            results[name] = bench_model(name, textbooks[name], args, device, Path(tmp), default_threads, log)
    torch.set_num_threads(default_threads)
    peaks_after = {k: matmul_peak(device, dt) for k, dt in dtypes.items()}
    doc = {"device": device_name(device), "torch": torch.__version__, "python": platform.python_version(),
           "cpu": platform.processor() or platform.machine(), "default_threads": default_threads,
           "physical_cores": speed.physical_cores(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "command": command or "python -m playground bench " + " ".join(argv or []),
           "loadavg_before": load0, "loadavg_after": os.getloadavg(),
           "matmul_peak_flops": peaks, "matmul_peak_flops_after": peaks_after, "models": results}
    out = Path(args.out or Path("benchmarks") / "results" / f"{device_name(device)}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    # the peak is the best the machine showed: before the models or after them (a busy moment
    # during one of the two measurements would otherwise understate it)
    best = {k: max(peaks[k], peaks_after[k]) for k in peaks}
    print(table(results, best))
    print("\nmatmul peak " + ", ".join(
              f"{k} {best[k] / 1e9:.1f} GFLOP/s (before: {peaks[k] / 1e9:.1f}, after: {peaks_after[k] / 1e9:.1f})"
              for k in best)
          + f"; load average {load0[0]:.1f} -> {doc['loadavg_after'][0]:.1f}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
