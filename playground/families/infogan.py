"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets").

G gets, besides its noise, latent codes nobody labels: a categorical code c of ``info_categories``
values (G is conditioned on it as a cGAN on its label: an embedding of c, the same as a one-hot
input followed by a linear layer) and ``info_continuous`` continuous codes uniform in [-1, 1] (the
first entries of G's z; ModelSpec.cont_codes). D is not told the codes. A head Q on D's body
(D.body, shared) reads them back from the image; the better Q can, the more of the codes survives
in the image: that is the variational lower bound of the mutual information I(c; G(z, c)) of the
paper. Q here:

    D.body(x) [N, feature_dim] -> Linear(feature_dim, 128) -> BatchNorm1d -> LeakyReLU(0.2)
                               -> Linear(128, K + L): K categorical logits, L continuous means

The information loss (the negated bound up to a constant):

    L_I = CE(categorical logits, c) + sum_j 0.5 * (mean_j - c_j)^2      (averaged over the batch)

i.e. the categorical code's cross-entropy plus a Gaussian of fixed unit variance on each
continuous code (the usual simplification; the paper's code also fixes its variance). D and Q
minimise ``adversarial_D + info_weight * L_I`` (Q's parameters sit in D's optimizer, at D's
learning rate), G minimises ``adversarial_G + info_weight * L_I`` on the same fakes. The data's
labels are never used.

Reported: ``info_loss`` (L_I of D's update), ``code_acc`` (how often Q's most likely value is the
categorical code G was given), ``code_error`` (mean squared error of the continuous codes) and
``info_loss_g`` (L_I of G's update). ``loss_d``/``loss_g`` stay the adversarial parts.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import sampling
from .base import Batch
from .heads import HeadStep

Q_HIDDEN = 128


class QHead(nn.Module):
    """Q(h): D's body features h ([N, feature_dim], or feature maps that flatten to it) ->
    (categorical logits [N, K], continuous means [N, L])."""

    def __init__(self, feature_dim: int, categories: int, continuous: int, hidden: int = Q_HIDDEN):
        super().__init__()
        self.categories, self.continuous = categories, continuous
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(feature_dim, hidden), nn.BatchNorm1d(hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden, categories + continuous))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(h.float())                          # [N, K + L]
        return out[:, :self.categories], out[:, self.categories:]


def info_loss(cat_logits: Tensor, cont_means: Tensor, code: Tensor | None, cont: Tensor) -> Tensor:
    """L_I: cross-entropy of the categorical code ``code`` [N] under ``cat_logits`` [N, K] (none when
    K = 0) plus sum over the L continuous codes of 0.5 * mean over the batch of (mean - code)^2
    (``cont_means``, ``cont`` [N, L])."""
    loss = cat_logits.new_zeros(())
    if cat_logits.shape[1]:
        loss = loss + F.cross_entropy(cat_logits, code)
    if cont.shape[1]:
        loss = loss + 0.5 * (cont_means - cont).pow(2).sum(1).mean()
    return loss


class InfoGanStep(HeadStep):
    G_STATS = ("loss_g", "info_loss_g")
    LOSSES = ("loss_d", "loss_g", "info_loss")

    @classmethod
    def adapt_spec(cls, spec, cfg, info):
        return dataclasses.replace(spec, z_dim=cfg.z_dim + cfg.info_continuous, num_classes=cfg.info_categories,
                                   cont_codes=cfg.info_continuous, d_labels=False, d_outputs=1,
                                   label_role="code")

    def __init__(self, cfg, spec, plan, device, steps_per_epoch: int):
        super().__init__(cfg, spec, plan, device, steps_per_epoch)
        self.categories, self.continuous = spec.num_classes, spec.cont_codes
        D = self.discriminator
        self.Q = QHead(D.feature_dim, self.categories, self.continuous).to(device)
        self.modules["Q"] = self.Q
        # Q learns with D: same optimizer (the live lr_d applies to both), its own parameter group
        self.optimizers["opt_d"].add_param_group({"params": list(self.Q.parameters())})
        self.D_STATS = (self.ADV_STATS + ("info_loss",) + (("code_acc",) if self.categories else ())
                        + (("code_error",) if self.continuous else ()))
        self.finish_building()

    @property
    def wants_labels(self) -> bool:
        return False   # the codes are G's own; the data's labels are never looked at

    def d_extra_modules(self) -> list:
        return [self.Q]

    def draw_inputs(self, batch: Batch):
        B = batch.x.shape[0]
        z = sampling.latent_noise(self.spec.z_dim, B, cont_codes=self.continuous, device=self.device)
        c = torch.randint(0, self.categories, (B,), device=self.device) if self.categories else None
        return z, c

    def _info(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        cat_logits, means = self.Q(h)
        cont = self._z[:, :self.continuous]
        return info_loss(cat_logits, means, self._y_fake, cont), cat_logits, means - cont

    def d_losses(self, out_real: Tensor, out_fake: Tensor, h_fake: Tensor, batch: Batch):
        loss, cat_logits, err = self._info(h_fake)
        with torch.no_grad():
            stats = {"info_loss": loss.detach()}
            if self.categories:
                stats["code_acc"] = (cat_logits.argmax(1) == self._y_fake).float().mean()
            if self.continuous:
                stats["code_error"] = err.pow(2).mean()
        return self.cfg.info_weight * loss, stats

    def g_losses(self, out_fake: Tensor, h_fake: Tensor):
        loss, _, _ = self._info(h_fake)
        return self.cfg.info_weight * loss, {"info_loss_g": loss.detach()}


STEP = InfoGanStep
