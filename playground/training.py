"""The training loop: one process trains one run folder.

Speed is designed in (see DESIGN.md): the data live on the training device as one uint8 tensor and
batches are drawn by index; losses and D's outputs are summed on the device and read back only every
``log_every`` steps (one host sync), never per step; Adam is fused where the device supports it.

The loop is the same for every GAN family: the family's GanStep (playground/families/) updates the
networks, RunOutputs (playground/outputs.py) writes grids, snapshots and checkpoints and resumes from
them, and ControlPoller (playground/live.py) applies pause, stop and live settings from control.json.
It is driven through three callables so that the CLI, the tests and the benchmark use it alike:
``should_stop()`` between steps, ``on_status(dict)`` for progress, ``log(str)``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import devices, monitor, quality, registry, speed
from .config import TrainConfig, is_snapshot_epoch
from .data import LoadedData
from .families import Batch, build_step, step_class
from .i18n import N_, msg
from .live import ControlPoller, LiveState
from .models import ModelSpec
from .outputs import RunOutputs, latest_train_checkpoint
from .runs import Run

CONTROL_EVERY_STEPS = 5      # how often the loop stats control.json (a cheap os.stat)
STATUS_EVERY_S = 5.0         # heartbeat interval while training or paused


class TrainingFailed(RuntimeError):
    """The run cannot go on (non-finite loss, …); the message is shown to the learner."""


def pick_device(name: str) -> torch.device:
    """'auto' → the CUDA GPU with the most free memory, then mps, then cpu; an explicit device
    must exist."""
    if name == "auto":
        return devices.auto_device()
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name} was asked for but this machine has no CUDA GPU; use auto or cpu")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device: {name} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
        return dev
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ValueError("device: mps was asked for but Apple's Metal backend is not available here")
        return torch.device("mps")
    return torch.device("cpu")


def model_spec(cfg: TrainConfig, info) -> ModelSpec:
    """The model shapes come from the data (channels, size, classes) and the config's choices."""
    if cfg.conditional and not info.num_classes:
        raise ValueError("conditional: this dataset has no class labels (put images in one subfolder "
                         "per class, or turn conditional off)")
    points = info.kind == "points"
    spec = ModelSpec(
        arch=cfg.arch, z_dim=cfg.z_dim,
        channels=0 if points else info.channels, image_size=0 if points else info.image_size,
        num_classes=info.num_classes if cfg.conditional else 0,
        g_hidden=tuple(cfg.g_hidden), d_hidden=tuple(cfg.d_hidden),
        g_filters=cfg.g_filters, d_filters=cfg.d_filters, kernel_size=cfg.kernel_size,
        upsample=cfg.upsample, batchnorm=cfg.batchnorm,
        # The WGAN-GP penalty is per sample; BatchNorm would mix samples in the critic.
        d_batchnorm=cfg.batchnorm and not registry.objective(cfg.objective).gradient_penalty,
        minibatch_std=cfg.minibatch_std, dropout=cfg.dropout, embed_dim=cfg.embed_dim,
        g_activation=cfg.g_activation, g_dropout=cfg.g_dropout, d_downsample=cfg.d_downsample,
        minibatch_disc=cfg.minibatch_disc, minibatch_disc_dim=cfg.minibatch_disc_dim)
    return step_class(cfg.family).adapt_spec(spec, cfg, info)


@dataclass
class Hooks:
    should_stop: Callable[[], bool] = lambda: False
    on_status: Callable[[dict], None] = lambda status: None
    log: Callable[[str], None] = lambda msg: None


@dataclass
class EpochStats:
    """What one epoch of training measured: the family's averaged statistics and its speed."""

    values: dict            # e.g. loss_d, loss_g, d_real, ... (the family's summarize())
    seconds: float
    images_per_s: float


class _Window:
    """Sums of a family's statistics over steps, kept on the device (one host read per window)."""

    def __init__(self, step_impl, device):
        self.names = step_impl.D_STATS + step_impl.G_STATS
        self.gauges = step_impl.GAUGES
        self.g_names = set(step_impl.G_STATS)
        self.zero = torch.zeros((), device=device)
        self.one = torch.ones((), device=device)
        self.sums = torch.zeros(len(self.names) + 1, device=device)   # + the count of G updates
        self.last = torch.zeros(len(self.gauges), device=device)
        self.counts = {0: self.zero, 1: self.one}   # G updates per step, as device scalars made once

    def pack(self, stats: dict, g_updates: int) -> torch.Tensor:
        """One step's statistics as one device vector (what ``add`` sums); ``g_updates``: how many G
        updates the step made (its G statistics are their sums)."""
        zero = self.zero
        count = self.counts.get(g_updates)
        if count is None:
            count = self.counts[g_updates] = torch.full((), float(g_updates), device=zero.device)
        return torch.stack([stats.get(n, zero) for n in self.names] + [count])

    def add(self, vec: torch.Tensor, stats: dict) -> None:
        self.sums += vec
        for i, n in enumerate(self.gauges):
            if n in stats:
                self.last[i] = stats[n]

    def read(self, step_impl, d_updates: int) -> tuple[dict, dict]:
        """(summarized values, gauges) — the window's one host sync."""
        vals = torch.cat([self.sums, self.last]).tolist()
        k = len(self.names)
        sums, g_updates = dict(zip(self.names, vals[:k])), int(round(vals[k]))
        gauges = dict(zip(self.gauges, vals[k + 1:]))
        return step_impl.summarize(sums, d_updates, g_updates), {**gauges, "_g_updates": g_updates}

    def reset(self) -> None:
        self.sums.zero_()


class Trainer:
    """Trains ``cfg`` on ``data`` into ``run``; call ``fit()``. Resumes when ``resume`` is set:
    True for the newest checkpoint that verifies, or the (tensors, meta) that
    playground.resume.plan_resume chose."""

    def __init__(self, run: Run, cfg: TrainConfig, data: LoadedData, device: torch.device,
                 hooks: Hooks | None = None, resume: bool | object = False):
        self.run, self.cfg, self.data, self.device = run, cfg, data, device
        self.hooks = hooks or Hooks()
        self.info = data.info
        self.points = self.info.kind == "points"
        self.spec = model_spec(cfg, self.info)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # work that names no GPU (streams, graphs) goes there too
        # speed settings: each is a config field resolved per device (playground/speed.py)
        self.speed = speed.resolve(cfg, self.spec, device)
        speed.apply_threads(self.speed)
        if self.speed.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True   # fixed shapes: let cuDNN time its kernels once
        # a family may hold examples out of training (a test split): the epochs draw from the rest
        self.train_index = step_class(cfg.family).train_indices(data, cfg)
        if self.train_index is not None:
            self.train_index = self.train_index.to(device)
        n = self.data.x.shape[0] if self.train_index is None else int(self.train_index.shape[0])
        self.n_train = n
        self.batch = min(cfg.batch_size, n)
        self.steps_per_epoch = max(1, n // self.batch)
        self.step_impl = build_step(cfg, self.spec, self.speed, device, self.steps_per_epoch)
        self.step_impl.use_data(data)
        self.G, self.D = self.step_impl.generator, self.step_impl.discriminator
        self.outputs = RunOutputs(run, cfg, self.spec, self.info, data.x, device, self.step_impl, self.speed)
        self.live = LiveState.from_config(cfg)
        self.control = ControlPoller(run, cfg, self.live, log=self.hooks.log)
        self.epoch = 0          # completed epochs
        self.step = 0           # D updates so far (one per real batch)
        self.started = time.time()
        self.last_status = 0.0
        self._last_images_per_s = None
        if resume is not False:
            self._resume(resume)
        # failure-mode warnings; built after a resume has trimmed the metrics, whose history it replays
        self.monitor = monitor.RunMonitor(run, has_probs=self.step_impl.has_probabilities, lr_d=self.live.lr_d)

    # ------------------------------------------------------------------ public
    def fit(self) -> str:
        """Train until the configured epoch count or a stop; returns 'finished' or 'stopped'."""
        cfg = self.cfg
        if self.epoch == 0 and self.step == 0:
            self.hooks.log(f"Training {cfg.arch} / {cfg.objective} on {self.info.name} "
                           f"({self.n_train} examples, {self.steps_per_epoch} steps per epoch) on {self.device}")
            self.finish_epoch(0, None)
        self._status("running")
        while self.epoch < cfg.epochs:
            try:
                stats = self.train_epoch(self.epoch + 1)
            except TrainingFailed:   # diverged: leave the warning in the metrics before failing
                self.run.append_metrics([self.monitor.non_finite(self.epoch + 1, self.step)])
                raise
            if stats is None:
                self.outputs.save_train_checkpoint(self.epoch, self.step, self.live.as_dict(), partial=True)
                self._status("stopped", message=N_("stopped by request; resume continues from the last checkpoint"))
                self.hooks.log("Stopped by request; checkpoint saved.")
                return "stopped"
            self.finish_epoch(self.epoch, stats)
        self._status("finished", message=f"finished {self.epoch} epochs")
        self.hooks.log(f"Finished {self.epoch} epochs.")
        return "finished"

    def train_epoch(self, epoch: int) -> EpochStats | None:
        """Train one epoch (step lines and status as it goes, nothing else written); its statistics,
        or None when a stop was asked for (the epoch is then left unfinished)."""
        cfg, dev, B, fam = self.cfg, self.device, self.batch, self.step_impl
        for m in fam.modules.values():
            m.train()
        perm = torch.randperm(self.n_train, device=dev)
        if self.train_index is not None:
            perm = self.train_index[perm]
        window, whole = _Window(fam, dev), _Window(fam, dev)
        window_start, window_steps = time.perf_counter(), 0
        epoch_start = time.perf_counter()
        # compiled models on CUDA may replay CUDA graphs, which reuse their output memory step
        # after step: each step is marked as a new one (see SpeedPlan.cudagraph_step_mark)
        mark_step = self.speed.cudagraph_step_mark
        for i in range(self.steps_per_epoch):
            if i % CONTROL_EVERY_STEPS == 0 and self._control(epoch):
                return None
            measure = (self.step + 1) % cfg.log_every == 0
            if mark_step:
                torch.compiler.cudagraph_mark_step_begin()
            x, y = self._real_batch(perm[i * B:(i + 1) * B])
            batch = Batch(x, y, epoch, i, measure)
            stats = fam.d_step(batch)
            # the generator's updates: g_steps of them, every d_steps discriminator updates
            g_updates = self.live.g_steps if (self.step + 1) % self.live.d_steps == 0 else 0
            if g_updates:
                stats.update(self._g_updates(batch, g_updates))
            fam.end_step()
            vec = window.pack(stats, g_updates)
            window.add(vec, stats)
            whole.sums += vec
            self.step += 1
            window_steps += 1
            if measure:
                now = time.perf_counter()
                self._log_window(epoch, window, window_steps, now - window_start)
                window.reset()
                window_start, window_steps = now, 0
        seconds = time.perf_counter() - epoch_start
        values, _ = whole.read(fam, self.steps_per_epoch)
        self._check_finite(values)
        self.epoch = epoch
        ips = self.steps_per_epoch * B / max(seconds, 1e-9)
        return EpochStats(values, seconds, ips)

    def finish_epoch(self, epoch: int, stats: EpochStats | None) -> None:
        """Grid (or toy plot), snapshot, epoch metrics line, train checkpoint, status — in that order,
        so a checkpoint never refers to outputs that are missing. Epoch 0 (``stats`` None): the
        untrained generator's grid, snapshot and quality figure."""
        records = []
        if stats is not None:
            self._last_images_per_s = stats.images_per_s
            records.append(_finite({"type": "epoch", "epoch": epoch, "step": self.step, "time": time.time(),
                                    **stats.values, "epoch_seconds": stats.seconds,
                                    "images_per_s": stats.images_per_s}))
        self.outputs.write_samples(epoch)
        if is_snapshot_epoch(self.cfg.snapshot_schedule, epoch, self.cfg.epochs) or epoch == 0:
            self.outputs.save_snapshot(epoch, self.step)
        records = self._quality_and_events(epoch, records) + self.step_impl.epoch_records(epoch, self.data)
        self.run.append_metrics(records)
        if epoch > 0:
            self.outputs.save_train_checkpoint(self.epoch, self.step, self.live.as_dict())
            loss_g = records[0].get("loss_g")
            self.hooks.log(f"Epoch {epoch}/{self.cfg.epochs}: loss_d {records[0]['loss_d']:.4f}, "
                           f"loss_g {loss_g if loss_g is None else round(loss_g, 4)}, "
                           f"{records[0]['epoch_seconds']:.1f} s")
        self._status("running", epoch_in_progress=epoch + 1 if epoch < self.cfg.epochs else None)

    # ------------------------------------------------------------------ the epoch's parts
    def _g_updates(self, batch: Batch, n: int) -> dict:
        """``n`` generator updates on this step's batch: the first on the fakes of D's update, each
        further one on fresh noise (``redraw``). G statistics are summed (the window divides by the
        count of G updates); gauges keep the last value."""
        fam = self.step_impl
        stats = fam.g_step(batch)
        for _ in range(n - 1):
            fam.redraw(batch)
            more = fam.g_step(batch)
            stats.update({k: stats[k] + v if k in fam.G_STATS and k in stats else v for k, v in more.items()})
        return stats

    def _real_batch(self, idx):
        x = self.data.x[idx]
        if not self.points:
            x = x.float().div_(127.5).sub_(1.0)
            if self.speed.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        y = self.data.y[idx] if (self.step_impl.wants_labels and self.data.y is not None) else None
        return x, y

    def _control(self, epoch: int) -> bool:
        """Apply control.json (pause, live settings); True when the run must stop now."""
        self._apply_control()
        live = self.live
        if live.paused:
            self._status("paused", epoch_in_progress=epoch)  # show the pause at once
            while live.paused and not live.stop and not self.hooks.should_stop():
                time.sleep(0.2)
                self._apply_control()
                self._status("paused", throttle=True, epoch_in_progress=epoch)  # heartbeat
            self._status("running", epoch_in_progress=epoch)
        if live.stop or self.hooks.should_stop():
            return True
        if time.time() - self.last_status > STATUS_EVERY_S:
            self._status("running", epoch_in_progress=epoch, throttle=True)
        return False

    def _apply_control(self) -> None:
        changes = self.control.poll(self.epoch + 1, self.step)
        if changes:
            self.step_impl.set_learning_rates(self.live.as_dict())
            self.run.append_metrics(changes)

    def _check_finite(self, values: dict) -> None:
        for k in self.step_impl.LOSSES:
            v = values.get(k)
            if v is not None and not math.isfinite(v):
                raise TrainingFailed(_nonfinite_message(self.cfg))

    def _log_window(self, epoch: int, window: _Window, steps: int, seconds: float) -> None:
        values, gauges = window.read(self.step_impl, steps)
        self._check_finite(values)
        g_updates = gauges.pop("_g_updates")
        if not g_updates:
            gauges = {k: (None if k.endswith("_g") else v) for k, v in gauges.items()}
        rec = {"type": "step", "epoch": epoch, "step": self.step, "time": time.time(), **values, **gauges,
               "images_per_s": steps * self.batch / max(seconds, 1e-9)}
        self.run.append_metrics([_finite(rec)])
        self._status("running", epoch_in_progress=epoch, images_per_s=rec["images_per_s"])

    def _quality_and_events(self, epoch: int, records: list[dict]) -> list[dict]:
        """Add the quality figure and the fixed batch's diversity to this epoch's line (epoch 0: a
        line of type "quality"), then the failure-mode events they and the step lines raise."""
        q, div = quality.epoch_quality(self.G, self.outputs.fixed_z, self.outputs.fixed_y,
                                       n=self.cfg.quality_samples, seed=self.cfg.sample_seed + 1, info=self.info)
        if records:
            records[0].update(quality=q, **div)
        else:
            records = [{"type": "quality", "epoch": epoch, "step": self.step, "time": time.time(),
                        "quality": q, **div}]
        return records + self.monitor.after_epoch(records)

    # ------------------------------------------------------------------ resume
    def _resume(self, resume):
        """Load the train checkpoint that playground.resume.plan_resume chose and verified (passed as
        ``resume``), or with ``resume=True`` the newest that verifies; None: nothing was saved yet."""
        ck = resume if resume is not True else latest_train_checkpoint(self.run, log=self.hooks.log)
        if ck is None:
            self.hooks.log("No complete checkpoint yet: starting from the beginning.")
            self.outputs.clear_after(-1)
            return
        self.epoch, self.step, saved_live = self.outputs.load_train_checkpoint(*ck)
        self.live.values.update(LiveState.from_config(self.cfg, saved_live).values)
        self.step_impl.set_learning_rates(self.live.as_dict())
        self.outputs.clear_after(self.epoch)
        self.hooks.log(f"Resumed from the checkpoint after epoch {self.epoch} (step {self.step}).")

    # ------------------------------------------------------------------ status
    def _status(self, state: str, throttle: bool = False, **extra):
        now = time.time()
        if throttle and now - self.last_status < STATUS_EVERY_S:
            return
        self.last_status = now
        done_steps = self.epoch * self.steps_per_epoch
        total_steps = self.cfg.epochs * self.steps_per_epoch
        ips = extra.pop("images_per_s", None) or self._last_images_per_s
        eta = None
        if ips and state == "running":
            remaining = max(0, total_steps - max(done_steps, self.step)) * self.batch
            eta = remaining / ips
        status = {"state": state, "epoch": self.epoch, "epochs": self.cfg.epochs, "step": self.step,
                  "steps_per_epoch": self.steps_per_epoch, "batch_size": self.batch,
                  "pid": os.getpid(), "heartbeat": now, "started": self.started,
                  "device": str(self.device), "images_per_s": ips, "eta_s": eta,
                  "live": self.live.as_dict()}
        status.update(extra)
        self.hooks.on_status(status)


def _finite(rec: dict) -> dict:
    """JSON has no NaN/inf: such values become null (the loss checks above catch the losses)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}


def _nonfinite_message(cfg: TrainConfig) -> str:
    return msg("The losses became NaN or infinite: training diverged, so the run was stopped. Its last "
               "checkpoint and sample grids are kept. Try lower learning rates (for example half of "
               "G's {lr_g} and D's {lr_d}), a smaller batch, or the WGAN-GP objective.",
               lr_g=float(cfg.lr_g), lr_d=float(cfg.lr_d))
