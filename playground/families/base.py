"""The interface between the training loop and a GAN family."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import registry, speed as speed_modes
from ..models import build_models


@dataclass
class Batch:
    """One real batch and where it sits in the run."""

    x: Tensor                 # images [B, C, H, W] in [-1, 1] or points [B, 2]
    y: Tensor | None          # labels [B] (conditional runs)
    epoch: int                # 1-based epoch being trained
    index: int                # step within the epoch, 0-based
    measure: bool             # a logging step: also return the gradient norms


class GanStep:
    """One family's update rule; the loop only orchestrates.

    ``modules`` and ``optimizers`` name everything a checkpoint saves (tensors under those
    prefixes); ``modules["G"]`` is the generator the grids, snapshots and the quality figure use,
    ``modules["D"]`` the discriminator the 2D toy view draws.

    ``d_step(batch)`` makes one discriminator update and ``g_step(batch)`` one generator update on
    the same batch; each returns named 0-d tensors on the device (never read back per step).
    Names in ``D_STATS`` are averaged over D updates, those in ``G_STATS`` over G updates;
    ``GAUGES`` (returned on measuring steps) are reported as last seen.
    ``end_step()`` runs after both (bookkeeping such as a replay buffer).

    With ``g_steps`` above 1 the loop updates G several times in a row: ``redraw(batch)`` comes
    before each update after the first, so that each one learns from fresh noise."""

    SNAPSHOT_MODULES: tuple[str, ...] = ("G",)   # what a generator snapshot holds (BiGAN adds "E")
    D_STATS: tuple[str, ...] = ()
    G_STATS: tuple[str, ...] = ()
    GAUGES: tuple[str, ...] = ()
    LOSSES: tuple[str, ...] = ("loss_d", "loss_g")   # a non-finite one ends the run
    # d_real/d_fake are probabilities the failure-mode monitor reads; None: as the objective says
    has_probabilities: bool | None = None

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    # ------------------------------------------------------------- before building
    @classmethod
    def adapt_spec(cls, spec, cfg, info):
        """The ModelSpec this family trains, from the one the config and the data describe (a
        family whose D classifies, or whose G takes codes, changes it); the default keeps it."""
        return spec

    @classmethod
    def snapshot_module(cls, name: str, spec) -> nn.Module:
        """A fresh module ``name`` of SNAPSHOT_MODULES other than G (BiGAN's encoder "E"), to load a
        snapshot's tensors into for inference."""
        raise ValueError(f"the {cls.__name__} family has no module {name!r} in its snapshots")

    @classmethod
    def probabilities_for(cls, cfg) -> bool:
        """Whether a run of ``cfg`` reports d_real/d_fake as probabilities that the failure-mode
        monitor may judge (what ``has_probabilities`` of its step will be)."""
        return registry.objective(cfg.objective).has_probabilities if cls.has_probabilities is None \
            else cls.has_probabilities

    @property
    def wants_labels(self) -> bool:
        """The loop passes the data's labels in ``Batch.y`` (conditional models; families that
        train on labels, such as the semi-supervised GAN, say so)."""
        return bool(self.modules["G"].spec.num_classes)

    # --------------------------------------------------------------- for the loop
    def d_step(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def g_step(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def redraw(self, batch: Batch) -> None:
        """New noise and fakes for one more generator update in this step (``g_steps`` > 1)."""
        raise NotImplementedError(f"{type(self).__name__} cannot update G more than once per step (g_steps)")

    def end_step(self) -> None:
        pass

    @classmethod
    def train_indices(cls, data, cfg) -> Tensor | None:
        """Indices (int64, in the data's order) of the examples the loop trains on; None: all of
        them. A family that holds out test images (the semi-supervised GAN) returns the rest, and
        the epochs then draw their batches from these alone."""
        return None

    def use_data(self, data) -> None:
        """Called once by the loop before any step with the run's LoadedData (all of it, held-out
        examples included): a family that needs examples of its own (labelled ones, test images,
        a fixed batch to reconstruct) takes them here, deterministically from the data and the seed."""

    def epoch_records(self, epoch: int, data) -> list[dict]:
        """Extra metrics records written with epoch ``epoch``'s line (0: before training), e.g. a
        classifier's test accuracy; each a dict with "type" and "epoch". ``data`` is the LoadedData."""
        return []

    def set_learning_rates(self, live: dict) -> None:
        """Apply the live settings' learning rates to the optimizers (``opt_g`` ← lr_g, …)."""
        for name, opt in self.optimizers.items():
            lr = live.get("lr_" + name.removeprefix("opt_"))
            if lr is not None:
                for g in opt.param_groups:
                    g["lr"] = lr

    def summarize(self, sums: dict[str, float], d_updates: int, g_updates: int) -> dict:
        """The metrics line's values from a window's sums."""
        out = {k: sums[k] / d_updates if d_updates else None for k in self.D_STATS}
        out.update({k: sums[k] / g_updates if g_updates else None for k in self.G_STATS})
        return out

    @property
    def generator(self) -> nn.Module:
        return self.modules["G"]

    @property
    def discriminator(self) -> nn.Module:
        return self.modules["D"]


class ObjectiveStep(GanStep):
    """A step whose real-or-fake part follows the config's objective and its instance noise (the GAN
    family, AC-GAN and InfoGAN), with G, D and their Adams built as the speed plan asks."""

    def __init__(self, cfg, spec, plan, device: torch.device, steps_per_epoch: int):
        self.cfg, self.spec, self.plan, self.device = cfg, spec, plan, device
        self.steps_per_epoch = steps_per_epoch
        self.objective = registry.objective(cfg.objective)
        self.has_probabilities = self.objective.has_probabilities
        G, D, opt_g, opt_d = build_pair(cfg, spec, plan, device)
        self.modules = {"G": G, "D": D}
        self.optimizers = {"opt_g": opt_g, "opt_d": opt_d}
        self.amp = ((lambda: torch.autocast(device_type=device.type, dtype=plan.autocast))
                    if plan.autocast is not None else contextlib.nullcontext)
        self.real_target = 1.0 - cfg.label_smoothing
        self.zero = torch.zeros((), device=device)
        self._sigma = 0.0

    def summarize(self, sums: dict[str, float], d_updates: int, g_updates: int) -> dict:
        out = super().summarize(sums, d_updates, g_updates)
        if not self.objective.has_probabilities:   # critic scores: no probability to show
            out["d_real"] = out["d_fake"] = None
        return out

    def noise_std(self, epoch: int, i: int) -> float:
        """Instance noise: its std at step ``i`` of ``epoch``, fading linearly to 0."""
        s0 = self.cfg.instance_noise
        if s0 <= 0:
            return 0.0
        span = (self.cfg.instance_noise_epochs or self.cfg.epochs) * self.steps_per_epoch
        t = (epoch - 1) * self.steps_per_epoch + i
        return s0 * max(0.0, 1.0 - t / span)


def build_pair(cfg, spec, plan: speed_modes.SpeedPlan, device: torch.device):
    """(G, D, opt_g, opt_d) as the config and the speed plan ask: models on the device (channels-last
    where planned), Adam with the config's betas (fused where planned)."""
    G, D = build_models(spec)
    G.to(device)
    D.to(device)
    if plan.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    fused = plan.fused_adam or None
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                             weight_decay=cfg.weight_decay, fused=fused)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                             weight_decay=cfg.weight_decay, fused=fused)
    return G, D, opt_g, opt_d


def grad_norm(module: nn.Module) -> Tensor:
    """The L2 norm of all of ``module``'s gradients, on the device (no host sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).float()
