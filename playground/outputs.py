"""What a training run leaves in its folder besides metrics: the fixed-noise grids (or 2D toy views),
the generator snapshots, the training checkpoints, and a resume from them.

The file names come from playground/runs.py; the order of writes at the end of an epoch (grid,
snapshot, metrics, checkpoint) is the training loop's, so a checkpoint never refers to outputs that
are missing.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import torch

from . import checkpoint, devices, sampling
from .runs import Run, atomic_write_bytes, unlink_entry

TOY_SAMPLE_POINTS = 512


class RunOutputs:
    """Grids, snapshots and checkpoints of one run; ``step`` is the family's GanStep."""

    def __init__(self, run: Run, cfg, spec, info, data_x, device: torch.device, step, plan):
        self.run, self.cfg, self.spec, self.info, self.device = run, cfg, spec, info, device
        self.step_impl, self.plan = step, plan
        self.data_x = data_x
        self.points = info.kind == "points"
        # the fixed inputs of the sample grid / toy plot
        if self.points:
            z, y, _ = sampling.grid_inputs(spec.z_dim, spec.num_classes, TOY_SAMPLE_POINTS, cfg.sample_seed)
            if spec.num_classes:  # one fixed noise vector per point, labels cycling over classes
                z = sampling.fixed_noise(spec.z_dim, TOY_SAMPLE_POINTS, cfg.sample_seed)
                y = torch.arange(TOY_SAMPLE_POINTS) % spec.num_classes
            self.grid_cols = 0
        else:
            z, y, self.grid_cols = sampling.grid_inputs(spec.z_dim, spec.num_classes, cfg.sample_count,
                                                        cfg.sample_seed, spec.cont_codes)
        self.fixed_z, self.fixed_y = z.to(device), (None if y is None else y.to(device))

    # ------------------------------------------------------------------ grids
    @torch.no_grad()
    def write_samples(self, epoch: int) -> None:
        G, D = self.step_impl.generator, self.step_impl.discriminator
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
                real = self.data_x[:TOY_SAMPLE_POINTS].float().cpu().numpy()
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
    def _meta(self, kind: str, epoch: int, step: int, **extra) -> dict:
        return {"kind": kind, "epoch": epoch, "step": step, "model": self.spec.to_dict(),
                "config": self.cfg.to_dict(), "data": dataclasses.asdict(self.info), **extra}

    def save_snapshot(self, epoch: int, step: int) -> None:
        """The family's SNAPSHOT_MODULES (the generator, and e.g. BiGAN's encoder), and for 2D toys
        the discriminator, whose surface the toy view draws."""
        names = [*self.step_impl.SNAPSHOT_MODULES, *(["D"] if self.points else [])]
        tensors = {}
        for name in dict.fromkeys(names):
            tensors.update(checkpoint.prefixed(name, self.step_impl.modules[name].state_dict()))
        checkpoint.save(self.run.snapshot_stem(epoch), tensors,
                        self._meta("snapshot", epoch, step, dtype="float32"), root=self.run.path)

    def save_train_checkpoint(self, epoch: int, step: int, live: dict, partial: bool = False) -> None:
        """Everything a resume needs: every module and optimizer of the step, the RNG states and the
        live settings; then the oldest beyond ``keep_checkpoints`` are pruned."""
        tensors, infos = {}, {}
        for name, module in self.step_impl.modules.items():
            tensors.update(checkpoint.prefixed(name, module.state_dict()))
        for name, opt in self.step_impl.optimizers.items():
            t, infos[name] = checkpoint.optimizer_tensors(name, opt)
            tensors.update(t)
        tensors["rng.cpu"] = torch.get_rng_state()
        tensors.update(devices.rng_state(self.device))
        checkpoint.save(self.run.train_checkpoint_stem(step), tensors,
                        self._meta("train", epoch, step, **infos, live=dict(live), partial=partial),
                        root=self.run.path)
        for stem in self.run.train_checkpoint_stems()[:-self.cfg.keep_checkpoints]:
            self.run.delete_checkpoint(stem)

    def load_train_checkpoint(self, tensors: dict, meta: dict) -> tuple[int, int, dict]:
        """Restore the step's modules and optimizers and the RNG states from a verified checkpoint;
        (epoch, step, saved live settings)."""
        if meta.get("model") != self.spec.to_dict():
            raise checkpoint.CheckpointError("the checkpoint was made for a different model than the "
                                             "run's config describes (was config.json edited?)")
        names = {"G": "generator", "D": "discriminator"}
        for name, module in self.step_impl.modules.items():
            state = {k: v.to(self.device) for k, v in checkpoint.unprefixed(name, tensors).items()}
            checkpoint.load_module_state(module, state, names.get(name, name))
        # CPU tensors: load_state_dict puts each where its parameter's Adam wants it; Adam's step
        # counters stay on the CPU unless fused (a device counter costs a host sync per step)
        opt_t = {k: v for k, v in tensors.items() if k.startswith("opt_")}
        for name, opt in self.step_impl.optimizers.items():
            for g in meta[name].get("param_groups", []):  # Adam's kernel flags of this run's device
                g["fused"], g["foreach"] = (self.plan.fused_adam or None), None
            checkpoint.restore_optimizer(opt, name, opt_t, meta[name])
        if "rng.cpu" in tensors:
            torch.set_rng_state(tensors["rng.cpu"].cpu())
        devices.restore_rng_state(self.device, tensors)
        return int(meta["epoch"]), int(meta["step"]), meta.get("live") or {}

    def clear_after(self, epoch: int) -> None:
        """On resume, drop everything of epochs after ``epoch`` (-1: everything): they are trained again."""
        self.run.truncate_metrics(max(epoch, 0) if epoch >= 0 else -1)
        for e in self.run.sample_epochs():
            if e > epoch:
                for ext in ("png", "npz"):
                    unlink_entry(self.run.sample_path(e, ext), root=self.run.path)
        for e in self.run.snapshot_epochs():
            if e > epoch:
                self.run.delete_checkpoint(self.run.snapshot_stem(e))


def latest_train_checkpoint(run: Run, log=lambda m: None):
    """(tensors, meta) of the newest train checkpoint that verifies, or None; damaged ones are
    skipped with a log line (a crash can leave the newest one incomplete)."""
    for stem in reversed(run.train_checkpoint_stems()):
        try:
            return checkpoint.load(stem, device="cpu", root=run.path)
        except checkpoint.CheckpointError as e:
            log(f"Skipping checkpoint {stem.name}: {e}")
    return None
