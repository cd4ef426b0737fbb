"""How the training loop uses the hardware: resolved once per run from the config and the device.

Every speed mode is a config field, documented with what each measured in benchmarks/README.md
("Speed"), and "auto" picks what measured fastest on that kind of device (``python -m playground bench``):

    field           CPU (auto)                         CUDA (auto)
    threads         all physical cores (shared out     torch's default (the GPU does the work)
                    among the job slots)
    precision       fp32 (bf16 is emulated without     bf16 autocast where the GPU supports it
                    AVX512-BF16: many times slower)
    channels_last   NHWC for DCGAN's convolutions      NHWC for DCGAN's convolutions
                    (faster at 28 px, even at 64 px)
    fused_adam      one fused Adam kernel per step     one fused Adam kernel per step
    joint_d_batch   on when exactly equivalent         on when exactly equivalent (see below)
    compile         off (a long compile, no faster)    off unless asked; "reduce-overhead" and
                                                       "max-autotune" replay CUDA graphs (few
                                                       kernel launches)

2D toys always train in fp32: their models are tiny (bf16 saves nothing) and bf16's step near
|x| = 4 (0.031) is more than half a grid mode's spread (0.05), so a mode's points would fall on a
handful of values.

Two things the loop always does because they are exact: zero_grad(set_to_none=True), and the
generator's backward pass computes gradients for G's parameters only (D's weight gradients in that
pass were thrown away anyway). ``tests/test_speed_modes.py`` checks that the plain path — fp32, NCHW,
for-each Adam, D on real and fake as two batches, eager — reproduces a step-by-step textbook
reference, and that every mode trains to the same losses.

``joint_d_batch`` runs D once on real and fake images concatenated. That is exactly the same
computation as two calls when D treats every sample on its own; BatchNorm (batch statistics) and
minibatch-stddev (a batch-wide feature) do not, so "auto" uses it only when D has neither. "on"
forces it anyway: then D normalises real and fake together, a different (documented) variant.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch

from . import registry
from .runs import CPUS_ENV, JOB_SLOTS_ENV


@dataclass(frozen=True)
class SpeedPlan:
    """What one run does for speed; ``describe()`` is logged and reported by the benchmark."""

    threads: int | None            # intra-op CPU threads set for the run (None: left as it was)
    autocast: torch.dtype | None   # autocast dtype, None for fp32
    channels_last: bool            # models and image batches in NHWC
    fused_adam: bool               # Adam(fused=True)
    joint_d_batch: bool            # D sees real and fake as one batch
    compile_mode: str | None       # torch.compile mode, None for eager
    cudnn_benchmark: bool          # cuDNN picks the fastest kernels for the (fixed) shapes
    # torch.compiler.cudagraph_mark_step_begin() before each step: compiled models on CUDA may
    # replay CUDA graphs ("reduce-overhead" and "max-autotune" both turn them on), which reuse their
    # output memory; without the mark, D's call in G's update starts a new graph generation and
    # G's backward would read outputs that were overwritten.
    cudagraph_step_mark: bool = False

    def describe(self) -> dict:
        d = asdict(self)
        d["autocast"] = str(self.autocast).replace("torch.", "") if self.autocast else "fp32"
        return d


# Plain eager fp32 on the CPU: what a resume's trial build of a checkpoint's networks uses.
PLAIN = SpeedPlan(threads=None, autocast=None, channels_last=False, fused_adam=False, joint_d_batch=False,
                  compile_mode=None, cudnn_benchmark=False)


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyper-threads are not counted: two threads on
    one core share its vector units and gain little for convolutions and matrix products)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    cores = set()
    try:
        with open("/proc/cpuinfo") as f:
            phys = "0"
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = val.strip()
                elif key == "core id":
                    cores.add((phys, val.strip()))
    except OSError:
        pass
    return max(1, min(usable, len(cores) or usable))


def auto_threads() -> int:
    """All physical cores, shared out among the jobs that may train at once (the job manager passes
    its limit in ``GAN_PLAYGROUND_JOB_SLOTS``), at least one each.

    The dashboard stays responsive because the job manager starts its workers at a lower CPU
    priority (``worker.WORKER_NICE``), not by leaving a core idle: on the idle 2-core benchmark
    machine the project's loop ran faster on two threads than on one (benchmarks/README.md, "Speed")."""
    try:  # a cluster job (Ray backend) uses the CPUs the cluster reserved for it, no more
        reserved = int(os.environ.get(CPUS_ENV, "0"))
    except ValueError:
        reserved = 0
    if reserved > 0:
        return max(1, min(reserved, physical_cores()))
    try:
        slots = max(1, int(os.environ.get(JOB_SLOTS_ENV, "1")))
    except ValueError:
        slots = 1
    return max(1, physical_cores() // slots)


def resolve(cfg, spec, device: torch.device) -> SpeedPlan:
    """The speed settings for ``cfg`` (a TrainConfig) with models ``spec`` on ``device``."""
    kind = device.type
    convs = registry.architecture(spec.arch).convs and not spec.is_points
    if cfg.threads:
        threads = cfg.threads
    else:
        threads = auto_threads() if kind == "cpu" else None
    autocast = None
    if spec.is_points:
        pass  # 2D toys: fp32 whatever the setting (see the module's docstring)
    elif cfg.precision == "bf16":
        autocast = torch.bfloat16
    elif cfg.precision == "auto" and kind == "cuda" and torch.cuda.is_available() \
            and torch.cuda.is_bf16_supported(including_emulation=False):  # pre-Ampere GPUs emulate it
        autocast = torch.bfloat16
    # BatchNorm mixes the samples of a batch; minibatch-std and minibatch discrimination add
    # batch-wide features.
    per_sample_d = not (convs and spec.d_batchnorm) and not spec.minibatch_std and not spec.minibatch_disc
    if cfg.joint_d_batch == "on":
        joint = True
    elif cfg.joint_d_batch == "auto":
        joint = per_sample_d
    else:
        joint = False
    return SpeedPlan(
        threads=threads,
        autocast=autocast,
        channels_last=bool(cfg.channels_last and convs and kind in ("cpu", "cuda")),
        fused_adam=bool(cfg.fused_adam and kind in ("cpu", "cuda", "mps")),
        joint_d_batch=joint,
        compile_mode=cfg.compile_mode if cfg.compile else None,
        cudnn_benchmark=kind == "cuda",
        cudagraph_step_mark=bool(cfg.compile and kind == "cuda"),
    )


def apply_threads(plan: SpeedPlan) -> None:
    """Set torch's intra-op thread count for this process (the worker trains one run per process)."""
    if plan.threads and torch.get_num_threads() != plan.threads:
        torch.set_num_threads(plan.threads)
