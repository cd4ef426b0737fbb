"""The training loop: one process trains one run folder.

Speed is designed in (see DESIGN.md): the data live on the training device as one uint8 tensor and
batches are drawn by index; losses and D's outputs are summed on the device and read back only every
``log_every`` steps (one host sync), never per step; Adam is fused where the device supports it.

The loop is driven through three callables so that the CLI, the tests and a future in-process
runner can use it alike: ``should_stop()`` between steps, ``on_status(dict)`` for progress, and the
run folder's control file for pause and live settings.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import checkpoint, devices, losses, sampling, speed
from . import monitor, quality
from .i18n import N_, msg
from .config import LIVE_FIELDS, TrainConfig, is_snapshot_epoch
from .data import LoadedData
from .models import ModelSpec, build_models
from .runs import Run, atomic_write_bytes, control_seq, list_files, unlink_entry

CONTROL_EVERY_STEPS = 5      # how often the loop stats control.json (a cheap os.stat)
STATUS_EVERY_S = 5.0         # heartbeat interval while training or paused
TOY_SAMPLE_POINTS = 512


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
    return ModelSpec(
        arch=cfg.arch, z_dim=cfg.z_dim,
        channels=0 if points else info.channels, image_size=0 if points else info.image_size,
        num_classes=info.num_classes if cfg.conditional else 0,
        g_hidden=tuple(cfg.g_hidden), d_hidden=tuple(cfg.d_hidden),
        g_filters=cfg.g_filters, d_filters=cfg.d_filters, kernel_size=cfg.kernel_size,
        upsample=cfg.upsample, batchnorm=cfg.batchnorm,
        # The WGAN-GP penalty is per sample; BatchNorm would mix samples in the critic.
        d_batchnorm=cfg.batchnorm and cfg.objective != "wgan-gp",
        minibatch_std=cfg.minibatch_std, dropout=cfg.dropout, embed_dim=cfg.embed_dim)


@dataclass
class Hooks:
    should_stop: Callable[[], bool] = lambda: False
    on_status: Callable[[dict], None] = lambda st: None
    log: Callable[[str], None] = lambda msg: None


@dataclass
class _Live:
    lr_g: float
    lr_d: float
    d_steps: int
    paused: bool = False
    stop: bool = False
    seq: int = -1
    mtime: float = 0.0


class Trainer:
    """Trains ``cfg`` on ``data`` into ``run``; call ``fit()``. Resumes when ``resume`` is set."""

    def __init__(self, run: Run, cfg: TrainConfig, data: LoadedData, device: torch.device,
                 hooks: Hooks | None = None, resume: bool | object = False):
        self.run, self.cfg, self.data, self.device = run, cfg, data, device
        self.hooks = hooks or Hooks()
        self.info = data.info
        self.points = self.info.kind == "points"
        self.spec = model_spec(cfg, self.info)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.G, self.D = build_models(self.spec)
        self.G.to(device)
        self.D.to(device)
        self.cuda = device.type == "cuda"
        if self.cuda and device.index is not None:
            torch.cuda.set_device(device)  # work that names no GPU (streams, graphs) goes there too
        # speed settings: each is a config field resolved per device (playground/speed.py)
        self.speed = speed.resolve(cfg, self.spec, device)
        speed.apply_threads(self.speed)
        if self.speed.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True   # fixed shapes: let cuDNN time its kernels once
        self.autocast_dtype = self.speed.autocast
        if self.speed.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        fused = self.speed.fused_adam or None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                                      weight_decay=cfg.weight_decay, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                      weight_decay=cfg.weight_decay, fused=fused)
        self.g_params = [p for p in self.G.parameters() if p.requires_grad]
        self.g_step = self.G
        self.d_step = self.D
        if self.speed.compile_mode:
            self.g_step = torch.compile(self.G, mode=self.speed.compile_mode)
            self.d_step = torch.compile(self.D, mode=self.speed.compile_mode)
        self.live = _Live(cfg.lr_g, cfg.lr_d, cfg.d_steps)
        self.epoch = 0          # completed epochs
        self.step = 0           # D updates so far (one per real batch)
        n = self.data.x.shape[0]
        self.batch = min(cfg.batch_size, n)
        self.steps_per_epoch = max(1, n // self.batch)
        # fixed inputs of the sample grid / toy plot
        if self.points:
            z, y, _ = sampling.grid_inputs(cfg.z_dim, self.spec.num_classes, TOY_SAMPLE_POINTS, cfg.sample_seed)
            if self.spec.num_classes:  # one fixed noise vector per point, labels cycling over classes
                z = sampling.fixed_noise(cfg.z_dim, TOY_SAMPLE_POINTS, cfg.sample_seed)
                y = torch.arange(TOY_SAMPLE_POINTS) % self.spec.num_classes
            self.grid_cols = 0
        else:
            z, y, self.grid_cols = sampling.grid_inputs(cfg.z_dim, self.spec.num_classes, cfg.sample_count,
                                                        cfg.sample_seed)
        self.fixed_z, self.fixed_y = z.to(device), (None if y is None else y.to(device))
        self.replay_buf = None
        self.replay_lab = None
        self.replay_filled = 0
        self.started = time.time()
        self.last_status = 0.0
        self.resume = resume
        if resume is not False:
            self._resume()
        # failure-mode warnings; built after a resume has trimmed the metrics, whose history it replays
        self.monitor = monitor.RunMonitor(run, has_probs=losses.probabilities(cfg.objective, torch.zeros(1)) is not None,
                                          lr_d=self.live.lr_d)

    # ------------------------------------------------------------------ public
    def fit(self) -> str:
        """Train until the configured epoch count or a stop; returns 'finished' or 'stopped'."""
        cfg = self.cfg
        if self.epoch == 0 and self.step == 0:
            self.hooks.log(f"Training {cfg.arch} / {cfg.objective} on {self.info.name} "
                           f"({self.info.n} examples, {self.steps_per_epoch} steps per epoch) on {self.device}")
            self._end_of_epoch_outputs(0, None)
        self._status("running")
        while self.epoch < cfg.epochs:
            try:
                outcome = self._train_epoch(self.epoch + 1)
            except TrainingFailed:   # diverged: leave the warning in the metrics before failing
                self.run.append_metrics([self.monitor.non_finite(self.epoch + 1, self.step)])
                raise
            if outcome == "stopped":
                self._save_train_checkpoint(partial=True)
                self._status("stopped", message=N_("stopped by request; resume continues from the last checkpoint"))
                self.hooks.log("Stopped by request; checkpoint saved.")
                return "stopped"
        self._status("finished", message=f"finished {self.epoch} epochs")
        self.hooks.log(f"Finished {self.epoch} epochs.")
        return "finished"

    # ------------------------------------------------------------------ the epoch
    def _real_batch(self, idx):
        x = self.data.x[idx]
        if not self.points:
            x = x.float().div_(127.5).sub_(1.0)
            if self.speed.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        y = self.data.y[idx] if (self.spec.num_classes and self.data.y is not None) else None
        return x, y

    def _noise_std(self, epoch: int, i: int) -> float:
        s0 = self.cfg.instance_noise
        if s0 <= 0:
            return 0.0
        span = (self.cfg.instance_noise_epochs or self.cfg.epochs) * self.steps_per_epoch
        t = (epoch - 1) * self.steps_per_epoch + i
        return s0 * max(0.0, 1.0 - t / span)

    def _train_epoch(self, epoch: int) -> str:
        cfg, dev, B = self.cfg, self.device, self.batch
        obj = cfg.objective
        self.G.train()
        self.D.train()
        perm = torch.randperm(self.data.x.shape[0], device=dev)
        real_target = 1.0 - cfg.label_smoothing
        # device-side accumulators: [loss_d, loss_g, g_updates, d_real, d_fake, score_real, score_fake]
        acc = torch.zeros(7, device=dev)
        ep_acc = torch.zeros(7, device=dev)
        gnorm = torch.zeros(2, device=dev)
        window_start, window_steps = time.perf_counter(), 0
        epoch_start = time.perf_counter()
        amp = (torch.autocast(device_type=dev.type, dtype=self.autocast_dtype)
               if self.autocast_dtype is not None else _NullCtx())
        zero = torch.zeros((), device=dev)
        # compiled models on CUDA may replay CUDA graphs, which reuse their output memory step
        # after step: each step is marked as a new one (see SpeedPlan.cudagraph_step_mark)
        mark_step = self.speed.cudagraph_step_mark
        fake = y_fake = None
        for i in range(self.steps_per_epoch):
            if i % CONTROL_EVERY_STEPS == 0:
                self._poll_control()
                if self.live.paused:
                    self._status("paused", epoch_in_progress=epoch)  # show the pause at once
                    while self.live.paused and not self.live.stop and not self.hooks.should_stop():
                        time.sleep(0.2)
                        self._poll_control()
                        self._status("paused", throttle=True, epoch_in_progress=epoch)  # heartbeat
                    self._status("running", epoch_in_progress=epoch)
                if self.live.stop or self.hooks.should_stop():
                    return "stopped"
                if self.live.paused is False and time.time() - self.last_status > STATUS_EVERY_S:
                    self._status("running", epoch_in_progress=epoch, throttle=True)
            log_now = (self.step + 1) % cfg.log_every == 0
            if mark_step:
                torch.compiler.cudagraph_mark_step_begin()
            real, y = self._real_batch(perm[i * B:(i + 1) * B])
            sigma = self._noise_std(epoch, i)
            # ---- discriminator update
            z = torch.randn(B, cfg.z_dim, device=dev)
            y_fake = y
            with amp:
                fake = self.g_step(z, y_fake)
            fake_d, y_fake_d = self._replay_mix(fake.detach(), y_fake)
            real_in, fake_in = real, fake_d
            if sigma > 0:
                real_in = real + sigma * torch.randn_like(real)
                fake_in = fake_d + sigma * torch.randn_like(fake_d)
            with amp:
                if self.speed.joint_d_batch:  # one call on [real; fake] (see playground/speed.py)
                    y_both = None if y is None else torch.cat([y, y_fake_d])
                    rf = self.d_step(torch.cat([real_in, fake_in.to(real_in.dtype)]), y_both).float()
                    r, f = rf[:B], rf[B:]
                else:
                    r = self.d_step(real_in, y).float()
                    f = self.d_step(fake_in, y_fake_d).float()
                loss_d = losses.d_loss(obj, r, f, real_target=real_target)
            if obj == "wgan-gp":
                loss_d = loss_d + cfg.gp_weight * losses.gradient_penalty(
                    self.D, real_in.float(), fake_in.float(), y_fake_d)  # replayed fakes: their own labels
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if log_now:
                gnorm[0] = _grad_norm(self.D)
            self.opt_d.step()
            with torch.no_grad():
                pr, pf = losses.probabilities(obj, r), losses.probabilities(obj, f)
                upd = torch.stack([
                    loss_d.detach().float(), zero, zero,
                    pr.mean() if pr is not None else zero, pf.mean() if pf is not None else zero,
                    r.mean(), f.mean()])
            # ---- generator update, every d_steps discriminator updates
            if (self.step + 1) % self.live.d_steps == 0:
                g_in = fake if sigma <= 0 else fake + sigma * torch.randn_like(fake)
                with amp:
                    loss_g = losses.g_loss(obj, self.d_step(g_in, y_fake).float())
                self.opt_g.zero_grad(set_to_none=True)
                # G's gradients only: D's weight gradients of this pass would be thrown away
                loss_g.backward(inputs=self.g_params)
                if log_now:
                    gnorm[1] = _grad_norm(self.G)
                self.opt_g.step()
                upd[1] = loss_g.detach().float()
                upd[2] = 1.0
            acc += upd
            ep_acc += upd
            self._replay_push(fake.detach(), y_fake)
            self.step += 1
            window_steps += 1
            if log_now:
                now = time.perf_counter()
                self._log_window(epoch, acc, gnorm, window_steps, now - window_start)
                acc.zero_()
                window_start, window_steps = now, 0
        epoch_seconds = time.perf_counter() - epoch_start
        self.epoch = epoch
        self._end_of_epoch_outputs(epoch, (ep_acc, epoch_seconds))
        return "done"

    # ------------------------------------------------------------------ metrics
    def _log_window(self, epoch, acc, gnorm, steps, seconds):
        vals = torch.cat([acc, gnorm]).tolist()  # the one host sync of a logging window
        loss_d, loss_g, g_upd, d_real, d_fake, s_real, s_fake, gn_d, gn_g = vals
        if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
            raise TrainingFailed(_nonfinite_message(self.cfg))
        rec = {"type": "step", "epoch": epoch, "step": self.step, "time": time.time(),
               "loss_d": loss_d / steps, "loss_g": (loss_g / g_upd) if g_upd else None,
               **self._probs(d_real / steps, d_fake / steps),
               "score_real": s_real / steps, "score_fake": s_fake / steps,
               "grad_norm_d": gn_d, "grad_norm_g": gn_g if g_upd else None,
               "images_per_s": steps * self.batch / max(seconds, 1e-9)}
        self.run.append_metrics([_finite(rec)])
        self._status("running", epoch_in_progress=epoch, images_per_s=rec["images_per_s"])

    def _probs(self, d_real, d_fake) -> dict:
        if losses.probabilities(self.cfg.objective, torch.zeros(1)) is None:
            return {"d_real": None, "d_fake": None}
        return {"d_real": d_real, "d_fake": d_fake}

    def _end_of_epoch_outputs(self, epoch: int, epoch_stats):
        """Grid (or toy plot), snapshot, epoch metrics line, train checkpoint, status — in that order,
        so a checkpoint never refers to outputs that are missing."""
        records = []
        if epoch_stats is not None:
            ep_acc, seconds = epoch_stats
            vals = ep_acc.tolist()
            n = self.steps_per_epoch
            loss_d, loss_g, g_upd, d_real, d_fake, s_real, s_fake = vals
            if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
                raise TrainingFailed(_nonfinite_message(self.cfg))
            self._last_images_per_s = n * self.batch / max(seconds, 1e-9)
            records.append(_finite({
                "type": "epoch", "epoch": epoch, "step": self.step, "time": time.time(),
                "loss_d": loss_d / n, "loss_g": loss_g / g_upd if g_upd else None,
                **self._probs(d_real / n, d_fake / n),
                "score_real": s_real / n, "score_fake": s_fake / n,
                "epoch_seconds": seconds, "images_per_s": self._last_images_per_s}))
        self._write_samples(epoch)
        if is_snapshot_epoch(self.cfg.snapshot_schedule, epoch, self.cfg.epochs) or epoch == 0:
            self._save_snapshot(epoch)
        records = self._quality_and_events(epoch, records)
        self.run.append_metrics(records)
        if epoch > 0:
            self._save_train_checkpoint()
            self.hooks.log(f"Epoch {epoch}/{self.cfg.epochs}: loss_d {records[0]['loss_d']:.4f}, "
                           f"loss_g {records[0]['loss_g'] if records[0]['loss_g'] is None else round(records[0]['loss_g'], 4)}, "
                           f"{records[0]['epoch_seconds']:.1f} s")
        self._status("running", epoch_in_progress=epoch + 1 if epoch < self.cfg.epochs else None)

    def _quality_and_events(self, epoch: int, records: list[dict]) -> list[dict]:
        """Add the quality figure and the fixed batch's diversity to this epoch's line (epoch 0: a
        line of type "quality"), then the failure-mode events they and the step lines raise."""
        q, div = quality.epoch_quality(self.G, self.fixed_z, self.fixed_y, n=self.cfg.quality_samples,
                                       seed=self.cfg.sample_seed + 1, info=self.info)
        if records:
            records[0].update(quality=q, **div)
        else:
            records = [{"type": "quality", "epoch": epoch, "step": self.step, "time": time.time(),
                        "quality": q, **div}]
        return records + self.monitor.after_epoch(records)

    @torch.no_grad()
    def _write_samples(self, epoch: int):
        G, D = self.G, self.D
        G.eval()
        D.eval()
        try:
            out = G(self.fixed_z, self.fixed_y).float()
            if self.points:
                lattice = sampling.toy_lattice().to(self.device)
                ly = None
                if self.spec.num_classes:  # the surface for class 0 (the plot shows one class's D)
                    ly = torch.zeros(lattice.shape[0], dtype=torch.long, device=self.device)
                logits = D(lattice, ly).float().reshape(sampling.TOY_GRID, sampling.TOY_GRID)
                surface = sampling.surface_as_probability(self.cfg.objective, logits)
                real = self.data.x[:TOY_SAMPLE_POINTS].float().cpu().numpy()
                fake = out.cpu().numpy()
                arrays = {"real": real, "fake": fake, "d_surface": surface.cpu().numpy(),
                          "d_logits": logits.cpu().numpy(), "extent": np.float32(sampling.TOY_EXTENT)}
                buf = io.BytesIO()
                np.savez(buf, **arrays)
                atomic_write_bytes(self.run.sample_path(epoch, "npz"), buf.getvalue(), root=self.run.path)
                img = sampling.toy_plot(real, fake, arrays["d_surface"])
            else:
                img = sampling.make_grid(sampling.to_uint8(out), self.grid_cols)
            atomic_write_bytes(self.run.sample_path(epoch), sampling.png_bytes(img), root=self.run.path)
        finally:
            G.train()
            D.train()

    # ------------------------------------------------------------------ checkpoints
    def _meta(self, kind: str, **extra) -> dict:
        return {"kind": kind, "epoch": self.epoch, "step": self.step, "model": self.spec.to_dict(),
                "config": self.cfg.to_dict(), "data": _asdict(self.info), **extra}

    def _save_snapshot(self, epoch: int):
        tensors = checkpoint.prefixed("G", self.G.state_dict())
        if self.points:
            tensors.update(checkpoint.prefixed("D", self.D.state_dict()))
        checkpoint.save(sampling.snapshot_stem(self.run, epoch), tensors,
                        self._meta("snapshot", epoch=epoch, dtype="float32"), root=self.run.path)

    def _save_train_checkpoint(self, partial: bool = False):
        tensors = {**checkpoint.prefixed("G", self.G.state_dict()),
                   **checkpoint.prefixed("D", self.D.state_dict())}
        tg, ig = checkpoint.optimizer_tensors("opt_g", self.opt_g)
        td, idd = checkpoint.optimizer_tensors("opt_d", self.opt_d)
        tensors.update(tg)
        tensors.update(td)
        tensors["rng.cpu"] = torch.get_rng_state()
        tensors.update(devices.rng_state(self.device))
        live = {"lr_g": self.live.lr_g, "lr_d": self.live.lr_d, "d_steps": self.live.d_steps}
        stem = self.run.checkpoints_dir / f"train_step_{self.step:09d}"
        checkpoint.save(stem, tensors, self._meta("train", opt_g=ig, opt_d=idd, live=live, partial=partial),
                        root=self.run.path)
        self._prune_train_checkpoints()

    def _prune_train_checkpoints(self):
        stems = train_checkpoint_stems(self.run)
        for stem in stems[:-self.cfg.keep_checkpoints]:
            for suffix in (".json", ".safetensors"):  # JSON first: a half-deleted one reads as incomplete
                unlink_entry(stem.with_suffix(suffix), root=self.run.path)

    def _resume(self):
        """Load the train checkpoint that playground.resume.plan_resume chose and verified (passed as
        ``resume``), or with ``resume=True`` the newest that verifies; None: nothing was saved yet."""
        ck = self.resume if self.resume is not True else latest_train_checkpoint(self.run, log=self.hooks.log)
        if ck is None:
            self.hooks.log("No complete checkpoint yet: starting from the beginning.")
            self._clear_outputs_after(-1)
            return
        tensors, meta = ck
        if meta.get("model") != self.spec.to_dict():
            raise checkpoint.CheckpointError("the checkpoint was made for a different model than the "
                                             "run's config describes (was config.json edited?)")
        checkpoint.load_module_state(self.G, {k: v.to(self.device) for k, v in checkpoint.unprefixed("G", tensors).items()}, "generator")
        checkpoint.load_module_state(self.D, {k: v.to(self.device) for k, v in checkpoint.unprefixed("D", tensors).items()}, "discriminator")
        # CPU tensors: load_state_dict puts each where its parameter's Adam wants it; Adam's step
        # counters stay on the CPU unless fused (a device counter costs a host sync per step)
        opt_t = {k: v for k, v in tensors.items() if k.startswith("opt_")}
        for key in ("opt_g", "opt_d"):  # Adam's kernel flags of this run's device, not the saver's
            for g in meta[key].get("param_groups", []):
                g["fused"], g["foreach"] = (self.speed.fused_adam or None), None
        checkpoint.restore_optimizer(self.opt_g, "opt_g", opt_t, meta["opt_g"])
        checkpoint.restore_optimizer(self.opt_d, "opt_d", opt_t, meta["opt_d"])
        if "rng.cpu" in tensors:
            torch.set_rng_state(tensors["rng.cpu"].cpu())
        devices.restore_rng_state(self.device, tensors)
        self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
        live = meta.get("live") or {}
        self.live.lr_g = float(live.get("lr_g", self.cfg.lr_g))
        self.live.lr_d = float(live.get("lr_d", self.cfg.lr_d))
        self.live.d_steps = int(live.get("d_steps", self.cfg.d_steps))
        self._set_lrs()
        self._clear_outputs_after(self.epoch)
        self.hooks.log(f"Resumed from the checkpoint after epoch {self.epoch} (step {self.step}).")

    def _clear_outputs_after(self, epoch: int):
        """On resume, drop everything of epochs after ``epoch``: they will be trained again."""
        self.run.truncate_metrics(max(epoch, 0) if epoch >= 0 else -1)
        for e in self.run.sample_epochs():
            if e > epoch:
                for ext in ("png", "npz"):
                    unlink_entry(self.run.sample_path(e, ext), root=self.run.path)
        for e in self.run.snapshot_epochs():
            if e > epoch:
                for suffix in (".json", ".safetensors"):
                    unlink_entry(sampling.snapshot_stem(self.run, e).with_suffix(suffix), root=self.run.path)

    # ------------------------------------------------------------------ live control
    def _poll_control(self):
        try:
            mtime = self.run.control_path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self.live.mtime:
            return
        self.live.mtime = mtime
        ctl = self.run.read_control()
        seq = control_seq(ctl)  # an edited "seq" reads as 0; it must not end the run
        if seq == self.live.seq:
            return
        self.live.seq = seq
        state = ctl.get("state")
        if state == "stopped":
            self.live.stop = True
        elif state in ("paused", "running"):
            if (state == "paused") != self.live.paused:
                self.hooks.log("Paused." if state == "paused" else "Resumed.")
            self.live.paused = state == "paused"
        changes = []
        for name in LIVE_FIELDS:
            if name not in ctl:
                continue
            new = ctl[name]
            old = getattr(self.live, name)
            try:
                self.cfg.replace(**{name: new}).validate()
            except ValueError as e:
                self.hooks.log(f"Ignored a live change of {name} to {new!r}: {e}")
                continue
            new = type(old)(new)
            if new != old:
                setattr(self.live, name, new)
                changes.append({"type": "change", "epoch": self.epoch + 1, "step": self.step,
                                "time": time.time(), "field": name, "old": old, "new": new})
                self.hooks.log(f"Changed {name} from {old:g} to {new:g} at step {self.step}.")
        if changes:
            self._set_lrs()
            self.run.append_metrics(changes)

    def _set_lrs(self):
        for g in self.opt_g.param_groups:
            g["lr"] = self.live.lr_g
        for g in self.opt_d.param_groups:
            g["lr"] = self.live.lr_d

    # ------------------------------------------------------------------ experience replay
    def _replay_mix(self, fake, y):
        """Replace a share of D's fake batch with older fakes (Shrivastava et al. 2017)."""
        cfg = self.cfg
        if cfg.replay <= 0 or self.replay_filled < fake.shape[0]:
            return fake, y
        k = int(round(cfg.replay * fake.shape[0]))
        if k == 0:
            return fake, y
        idx = torch.randint(0, self.replay_filled, (k,), device=fake.device)
        fake = torch.cat([self.replay_buf[idx].to(fake.dtype), fake[k:]])
        if y is not None:
            y = torch.cat([self.replay_lab[idx], y[k:]])
        return fake, y

    def _replay_push(self, fake, y):
        cfg = self.cfg
        if cfg.replay <= 0:
            return
        if self.replay_buf is None:
            self.replay_buf = torch.empty((cfg.replay_size, *fake.shape[1:]), device=fake.device, dtype=fake.dtype)
            self.replay_lab = torch.zeros(cfg.replay_size, dtype=torch.long, device=fake.device)
        n = min(fake.shape[0], cfg.replay_size)
        if self.replay_filled < cfg.replay_size:
            start = self.replay_filled
            n = min(n, cfg.replay_size - start)
            pos = torch.arange(start, start + n, device=fake.device)
            self.replay_filled += n
        else:  # overwrite random slots: the buffer keeps a spread of ages
            pos = torch.randint(0, cfg.replay_size, (n,), device=fake.device)
        self.replay_buf[pos] = fake[:n]
        if y is not None:
            self.replay_lab[pos] = y[:n]

    # ------------------------------------------------------------------ status
    def _status(self, state: str, throttle: bool = False, **extra):
        now = time.time()
        if throttle and now - self.last_status < STATUS_EVERY_S:
            return
        self.last_status = now
        done_steps = self.epoch * self.steps_per_epoch
        total_steps = self.cfg.epochs * self.steps_per_epoch
        ips = extra.pop("images_per_s", None) or getattr(self, "_last_images_per_s", None)
        eta = None
        if ips and state == "running":
            remaining = max(0, total_steps - max(done_steps, self.step)) * self.batch
            eta = remaining / ips
        st = {"state": state, "epoch": self.epoch, "epochs": self.cfg.epochs, "step": self.step,
              "steps_per_epoch": self.steps_per_epoch, "batch_size": self.batch,
              "pid": os.getpid(), "heartbeat": now, "started": self.started,
              "device": str(self.device), "images_per_s": ips, "eta_s": eta,
              "live": {"lr_g": self.live.lr_g, "lr_d": self.live.lr_d, "d_steps": self.live.d_steps}}
        st.update(extra)
        self.hooks.on_status(st)


def latest_train_checkpoint(run: Run, log=lambda m: None):
    """(tensors, meta) of the newest train checkpoint that verifies, or None; damaged ones are
    skipped with a log line (a crash can leave the newest one incomplete)."""
    for stem in reversed(train_checkpoint_stems(run)):
        try:
            return checkpoint.load(stem, device="cpu", root=run.path)
        except checkpoint.CheckpointError as e:
            log(f"Skipping checkpoint {stem.name}: {e}")
    return None


def train_checkpoint_stems(run: Run) -> list:
    """Stems of the train checkpoints (regular JSON files only), oldest first."""
    names = list_files(run.checkpoints_dir, root=run.path)
    return sorted(run.checkpoints_dir / n[:-len(".json")] for n in names
                  if n.startswith("train_step_") and n.endswith(".json"))


class _NullCtx:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def _grad_norm(module: torch.nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).float()


def _finite(rec: dict) -> dict:
    """JSON has no NaN/inf: such values become null (the loss checks above catch the losses)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}


def _asdict(info) -> dict:
    return dataclasses.asdict(info)


def _nonfinite_message(cfg: TrainConfig) -> str:
    return msg("The losses became NaN or infinite: training diverged, so the run was stopped. Its last "
               "checkpoint and sample grids are kept. Try lower learning rates (for example half of "
               "G's {lr_g} and D's {lr_d}), a smaller batch, or the WGAN-GP objective.",
               lr_g=float(cfg.lr_g), lr_d=float(cfg.lr_d))
