"""What AC-GAN and InfoGAN share: a D whose body also feeds a second answer (the class, or the codes
G was given), trained with any objective of the registry, one-sided label smoothing, instance
noise and mode seeking (the GAN family's experience replay is not offered here; config validation
says so, from registry.Family.tricks).

Mode seeking (Mao et al. 2019) as in the GAN family: the fakes come in pairs, i and i + B/2, with
the same class (or codes) and different noise, and G's loss adds ``mode_seeking`` / (mean |G(z1) -
G(z2)| / mean |z1 - z2| + 1e-5). Without it a conditional DCGAN this small tends to draw one image
per class whatever the noise.

``HeadStep`` draws the fakes of a step, runs D's body once on real and once on fake images (or once
on both where the speed plan says it is exact), and leaves the family to turn the features into its
losses: ``d_losses(h_real, h_fake, batch)`` and ``g_losses(h_fake)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import losses
from .base import Batch, ObjectiveStep, grad_norm
from .gan import mode_seeking_term


class HeadStep(ObjectiveStep):
    """A GanStep whose D answers more than "real or fake" from one shared body."""

    ADV_STATS = ("loss_d", "d_real", "d_fake", "score_real", "score_fake")
    GAUGES = ("grad_norm_d", "grad_norm_g")

    def __init__(self, cfg, spec, plan, device: torch.device, steps_per_epoch: int):
        super().__init__(cfg, spec, plan, device, steps_per_epoch)
        self._fake = self._z = self._y_fake = None

    def finish_building(self) -> None:
        """Call once the family's own modules are in ``self.modules`` (G's parameters are what
        G's update touches)."""
        self.g_params = [p for p in self.generator.parameters() if p.requires_grad]
        if self.cfg.mode_seeking > 0:   # its term is reported on its own: loss_g stays adversarial
            self.G_STATS = self.G_STATS + ("mode_seeking",)

    def pair_up(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Mode seeking's pairs: fake i + B/2 gets fake i's label and continuous codes (the first
        ``spec.cont_codes`` entries of z), keeping its own noise."""
        B, L = z.shape[0], self.spec.cont_codes
        h = B // 2
        if L:
            z = z.clone()
            z[h:2 * h, :L] = z[:h, :L]
        if y is not None:
            y = torch.cat([y[:h], y[:h], y[2 * h:]])
        return z, y

    # ------------------------------------------------------------------ the family fills in
    def draw_inputs(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """(z [B, z_dim], G's labels [B] or None) for this step's fakes."""
        raise NotImplementedError

    def adversarial(self, out: Tensor) -> Tensor:
        """The real-or-fake logit [N] in D's output (all of it when D has one output)."""
        return out if out.dim() == 1 else out[:, 0]

    def d_losses(self, out_real: Tensor, out_fake: Tensor, h_fake: Tensor, batch: Batch):
        """(extra loss added to D's adversarial loss, its statistics)."""
        raise NotImplementedError

    def g_losses(self, out_fake: Tensor, h_fake: Tensor):
        """(extra loss added to G's adversarial loss, its statistics)."""
        raise NotImplementedError

    def d_extra_modules(self) -> list:
        """Modules besides D that D's update moves (their gradient norm is D's too)."""
        return []

    # ------------------------------------------------------------------ the step
    def _draw_fakes(self, batch: Batch) -> Tensor:
        """This step's fakes from new inputs (mode seeking's pairs where it is on), kept for G's update."""
        z, y_g = self.draw_inputs(batch)
        if self.cfg.mode_seeking > 0 and batch.x.shape[0] >= 2:
            z, y_g = self.pair_up(z, y_g)
        with self.amp():
            fake = self.generator(z, y_g)
        self._fake, self._z, self._y_fake = fake, z, y_g
        return fake

    def redraw(self, batch: Batch) -> None:
        self._draw_fakes(batch)

    def d_step(self, batch: Batch) -> dict[str, Tensor]:
        B, D = batch.x.shape[0], self.discriminator
        sigma = self._sigma = self.noise_std(batch.epoch, batch.index)
        fake = self._draw_fakes(batch)
        real_in, fake_in = batch.x, fake.detach()
        if sigma > 0:
            real_in = real_in + sigma * torch.randn_like(real_in)
            fake_in = fake_in + sigma * torch.randn_like(fake_in)
        with self.amp():
            if self.plan.joint_d_batch:   # one body call on [real; fake] (see playground/speed.py)
                h = D.body(torch.cat([real_in, fake_in.to(real_in.dtype)]))
                out = D.logits(h).float()
                h_real, h_fake, out_real, out_fake = h[:B], h[B:], out[:B], out[B:]
            else:
                h_real, h_fake = D.body(real_in), D.body(fake_in)
                out_real, out_fake = D.logits(h_real).float(), D.logits(h_fake).float()
            r, f = self.adversarial(out_real), self.adversarial(out_fake)
            loss_adv = losses.d_loss(self.cfg.objective, r, f, real_target=self.real_target)
            extra, stats = self.d_losses(out_real, out_fake, h_fake, batch)
        loss = loss_adv + extra
        if self.objective.gradient_penalty:
            loss = loss + self.cfg.gp_weight * losses.gradient_penalty(
                lambda x, y=None: self.adversarial(D(x)), real_in.float(), fake_in.float())
        opt = self.optimizers["opt_d"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if batch.measure:
            norms = [grad_norm(m) for m in (D, *self.d_extra_modules())]
            stats["grad_norm_d"] = torch.linalg.vector_norm(torch.stack(norms))
        opt.step()
        with torch.no_grad():
            pr = losses.probabilities(self.cfg.objective, r)
            pf = losses.probabilities(self.cfg.objective, f)
            stats.update(loss_d=loss_adv.detach().float(),
                         d_real=pr.mean() if pr is not None else self.zero,
                         d_fake=pf.mean() if pf is not None else self.zero,
                         score_real=r.mean(), score_fake=f.mean())
        return stats

    def g_step(self, batch: Batch) -> dict[str, Tensor]:
        fake, sigma, D = self._fake, self._sigma, self.discriminator
        g_in = fake if sigma <= 0 else fake + sigma * torch.randn_like(fake)
        with self.amp():
            h = D.body(g_in)
            out = D.logits(h).float()
            loss_adv = losses.g_loss(self.cfg.objective, self.adversarial(out))
            extra, stats = self.g_losses(out, h)
        if self.cfg.mode_seeking > 0 and fake.shape[0] >= 2:
            term = mode_seeking_term(fake.float(), self._z[:, self.spec.cont_codes:])
            extra = extra + self.cfg.mode_seeking * term
            stats["mode_seeking"] = term.detach()
        opt = self.optimizers["opt_g"]
        opt.zero_grad(set_to_none=True)
        # G's gradients only: D's (and Q's) weight gradients of this pass would be thrown away
        (loss_adv + extra).backward(inputs=self.g_params)
        if batch.measure:
            stats["grad_norm_g"] = grad_norm(self.generator)
        opt.step()
        stats["loss_g"] = loss_adv.detach().float()
        return stats

    def end_step(self) -> None:
        self._fake = self._z = self._y_fake = None

