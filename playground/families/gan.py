"""The GAN family: unconditional and conditional GANs (Goodfellow 2014; Mirza & Osindero 2014) with
every objective of the registry and the stabilising tricks of the config.

One step, in the order the random numbers are drawn (tests/test_speed_modes.py replays it):
noise z, G(z, y), replayed fakes mixed in (experience replay), instance noise on D's inputs, D on
real and fake (one joint call where the speed plan says it is exact), the objective's D loss (with
one-sided label smoothing, and the gradient penalty for WGAN-GP), D's update; then, every
``d_steps``-th step, G's update through D on the same fakes (and, with ``g_steps`` above 1, more G
updates, each on new noise and fakes drawn in the same way); then the last fakes enter the replay
buffer.

Mode seeking (Mao et al. 2019, "Mode Seeking GANs"): the fakes come in pairs, sample i and i + B/2,
with the same label and different noise; G's loss adds ``mode_seeking`` / (mean |G(z1) - G(z2)| /
mean |z1 - z2| + 1e-5), so that images of one class that look alike cost G. ``loss_g`` stays the
adversarial loss (comparable with any other run); the term is reported as ``mode_seeking``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import losses
from .base import Batch, ObjectiveStep, grad_norm


class GanFamily(ObjectiveStep):
    D_STATS = ("loss_d", "d_real", "d_fake", "score_real", "score_fake")
    G_STATS = ("loss_g",)
    GAUGES = ("grad_norm_d", "grad_norm_g")

    def __init__(self, cfg, spec, plan, device: torch.device, steps_per_epoch: int):
        super().__init__(cfg, spec, plan, device, steps_per_epoch)
        if cfg.mode_seeking > 0:   # its term is reported on its own: loss_g stays the adversarial loss
            self.G_STATS = ("loss_g", "mode_seeking")
        G, D = self.generator, self.discriminator
        self.g_params = [p for p in G.parameters() if p.requires_grad]
        # what the step calls: the models, or their compiled versions
        self.G_call, self.D_call = G, D
        if plan.compile_mode:
            self.G_call = torch.compile(G, mode=plan.compile_mode)
            self.D_call = torch.compile(D, mode=plan.compile_mode)
        self._fake = self._y_fake = None     # this step's fakes, shared by its D and G updates
        self.replay_buf = self.replay_lab = None
        self.replay_filled = 0

    # ------------------------------------------------------------------ the step
    def d_step(self, batch: Batch) -> dict[str, Tensor]:
        cfg, B, obj = self.cfg, batch.x.shape[0], self.cfg.objective
        real, y = batch.x, batch.y
        sigma = self._sigma = self.noise_std(batch.epoch, batch.index)
        fake, y_g = self._draw_fakes(batch)
        fake_d, y_fake_d = self._replay_mix(fake.detach(), y_g)
        real_in, fake_in = real, fake_d
        if sigma > 0:
            real_in = real + sigma * torch.randn_like(real)
            fake_in = fake_d + sigma * torch.randn_like(fake_d)
        with self.amp():
            if self.plan.joint_d_batch:  # one call on [real; fake] (see playground/speed.py)
                y_both = None if y is None else torch.cat([y, y_fake_d])
                rf = self.D_call(torch.cat([real_in, fake_in.to(real_in.dtype)]), y_both).float()
                r, f = rf[:B], rf[B:]
            else:
                r = self.D_call(real_in, y).float()
                f = self.D_call(fake_in, y_fake_d).float()
            loss_d = losses.d_loss(obj, r, f, real_target=self.real_target)
        if self.objective.gradient_penalty:
            loss_d = loss_d + cfg.gp_weight * losses.gradient_penalty(
                self.discriminator, real_in.float(), fake_in.float(), y_fake_d)  # replayed fakes: their own labels
        opt = self.optimizers["opt_d"]
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        stats = {}
        if batch.measure:
            stats["grad_norm_d"] = grad_norm(self.discriminator)
        opt.step()
        with torch.no_grad():
            pr, pf = losses.probabilities(obj, r), losses.probabilities(obj, f)
            stats.update(loss_d=loss_d.detach().float(),
                         d_real=pr.mean() if pr is not None else self.zero,
                         d_fake=pf.mean() if pf is not None else self.zero,
                         score_real=r.mean(), score_fake=f.mean())
        return stats

    def redraw(self, batch: Batch) -> None:
        self._draw_fakes(batch)

    def _draw_fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """Fakes G(z, y) from new noise (the labels of the real batch; with mode seeking, pairs
        (i, i + B/2) share a label), kept for the G update; (fakes, their labels)."""
        B, y = batch.x.shape[0], batch.y
        z = torch.randn(B, self.cfg.z_dim, device=self.device)
        y_g = y
        if self.cfg.mode_seeking > 0 and y is not None and B >= 2:   # pairs (i, i + B/2) share a label
            h = B // 2
            y_g = torch.cat([y[:h], y[:h], y[2 * h:]])
        with self.amp():
            fake = self.G_call(z, y_g)
        self._fake, self._y_fake, self._z = fake, y_g, z
        return fake, y_g

    def g_step(self, batch: Batch) -> dict[str, Tensor]:
        fake, sigma = self._fake, self._sigma
        g_in = fake if sigma <= 0 else fake + sigma * torch.randn_like(fake)
        with self.amp():
            loss_g = losses.g_loss(self.cfg.objective, self.D_call(g_in, self._y_fake).float())
        total, stats = loss_g, {}
        if self.cfg.mode_seeking > 0 and fake.shape[0] >= 2:
            term = mode_seeking_term(fake.float(), self._z)
            total = loss_g + self.cfg.mode_seeking * term
            stats["mode_seeking"] = term.detach()
        opt = self.optimizers["opt_g"]
        opt.zero_grad(set_to_none=True)
        # G's gradients only: D's weight gradients of this pass would be thrown away
        total.backward(inputs=self.g_params)
        if batch.measure:
            stats["grad_norm_g"] = grad_norm(self.generator)
        opt.step()
        stats["loss_g"] = loss_g.detach().float()
        return stats

    def end_step(self) -> None:
        self._replay_push(self._fake.detach(), self._y_fake)
        self._fake = self._y_fake = None

    # ------------------------------------------------------------------ tricks
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


def mode_seeking_term(fake: Tensor, z: Tensor) -> Tensor:
    """1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5) over the pairs (i, i + B/2): large when two
    noise vectors give nearly the same image (Mao et al. 2019)."""
    h = fake.shape[0] // 2
    images = (fake[:h] - fake[h:2 * h]).abs().flatten(1).mean(1)   # [h]
    noise = (z[:h] - z[h:2 * h]).abs().mean(1)                      # [h]
    return 1.0 / ((images / noise).mean() + 1e-5)


STEP = GanFamily
