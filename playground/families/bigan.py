"""BiGAN (Donahue et al. 2016, "Adversarial Feature Learning") / ALI (Dumoulin et al. 2016,
"Adversarially Learned Inference").

Besides G (z → x) an encoder E learns the way back (x → z). D never sees an image alone: it judges
pairs, and tells (x, E(x)) — a real image with its code — from (G(z), z) — a generated image with
the noise it came from. G and E learn together to fool it (the non-saturating loss for both: E
wants D to call its pairs generated, G wants its pairs called real). The only way to fool a perfect
D is for E and G to invert each other, so G(E(x)) comes to resemble x: a "find this image in the
latent space" that plain GANs lack.

The networks: E is D's body for the data (the DCGAN convolutions, or the MLP's layers) with a linear
output of z_dim values; D is D's body on x and a two-layer MLP on z, joined by a hidden layer and a
logit (``JointDiscriminator``). After each epoch the run records ``recon_error``, the mean
|x − G(E(x))| on a fixed batch of real training images (pixels in [-1, 1]), and ``latent_error``,
the mean |z − E(G(z))| on fixed noise, and for MNIST and Fashion-MNIST ``recon_same_class``, the
share of those images whose reconstruction the project's quality classifier puts in the class it
puts the real image in.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import quality, sampling
from ..models import build_models
from ..models.layers import Dropout
from .base import Batch, GanStep, build_pair, grad_norm

Z_HIDDEN = 512        # D's MLP on z
JOINT_HIDDEN = 1024   # D's hidden layer on the joined features
FIXED_BATCH = 256     # real images (and noise vectors) of the epoch's reconstruction errors
RECORD = "bigan"      # the metrics records' type
_SLOPE = 0.2


def _body_spec(spec, outputs: int):
    """D's spec for a network that reads images alone (no labels, no minibatch feature)."""
    return dataclasses.replace(spec, num_classes=0, d_labels=False, d_outputs=outputs)


class Encoder(nn.Module):
    """E(x): images [N, C, H, W] in [-1, 1] → codes [N, z_dim] (D's body and a linear output)."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.z_dim = spec.z_dim
        self.input_shape = spec.data_shape
        _, self.net = build_models(dataclasses.replace(_body_spec(spec, spec.z_dim),
                                                       minibatch_std=False, dropout=0.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.net.head(self.net.body(x)).flatten(1)    # [N, z_dim] (also when z_dim is 1)


class JointDiscriminator(nn.Module):
    """D(x, z): a logit [N] for the pair "a real image with its code" against "a generated image
    with its noise". ``body(x, z)`` gives the joined hidden features [N, JOINT_HIDDEN]."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.input_shape = spec.data_shape
        _, self.x_net = build_models(_body_spec(spec, 1))
        self.x_net.head = nn.Identity()                       # only its body is used
        drop = [Dropout(spec.dropout)] if spec.dropout > 0 else []
        self.z_net = nn.Sequential(nn.Linear(spec.z_dim, Z_HIDDEN), nn.LeakyReLU(_SLOPE), *drop,
                                   nn.Linear(Z_HIDDEN, Z_HIDDEN), nn.LeakyReLU(_SLOPE), *drop)
        self.joint = nn.Sequential(nn.Linear(self.x_net.feature_dim + Z_HIDDEN, JOINT_HIDDEN),
                                   nn.LeakyReLU(_SLOPE), *drop)
        self.feature_dim = JOINT_HIDDEN
        self.head = nn.Linear(JOINT_HIDDEN, 1)

    def body(self, x: Tensor, z: Tensor) -> Tensor:
        hx = self.x_net.body(x).flatten(1)                    # [N, x features]
        return self.joint(torch.cat([hx, self.z_net(z)], dim=1))

    def logits(self, h: Tensor) -> Tensor:
        return self.head(h).squeeze(1)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.logits(self.body(x, z))


class BiGan(GanStep):
    SNAPSHOT_MODULES = ("G", "E")
    D_STATS = ("loss_d", "d_real", "d_fake")
    G_STATS = ("loss_g",)
    GAUGES = ("grad_norm_d", "grad_norm_g")
    has_probabilities = True

    @classmethod
    def snapshot_module(cls, name: str, spec) -> nn.Module:
        if name == "E":
            return Encoder(spec)
        return super().snapshot_module(name, spec)

    def __init__(self, cfg, spec, plan, device: torch.device, steps_per_epoch: int):
        self.cfg, self.spec, self.plan, self.device = cfg, spec, plan, device
        G, _, _, _ = build_pair(cfg, spec, plan, device)      # G as every family builds it
        E, D = Encoder(spec).to(device), JointDiscriminator(spec).to(device)
        if plan.channels_last:
            E.to(memory_format=torch.channels_last)
            D.to(memory_format=torch.channels_last)
        fused = plan.fused_adam or None
        ge = [*G.parameters(), *E.parameters()]
        # G and E learn together, at G's learning rate (a live change of lr_g moves both)
        opt_g = torch.optim.Adam(ge, lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                                 weight_decay=cfg.weight_decay, fused=fused)
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                 weight_decay=cfg.weight_decay, fused=fused)
        self.modules = {"G": G, "E": E, "D": D}
        self.optimizers = {"opt_g": opt_g, "opt_d": opt_d}
        self.ge_params = [p for p in ge if p.requires_grad]
        self.amp = ((lambda: torch.autocast(device_type=device.type, dtype=plan.autocast))
                    if plan.autocast is not None else contextlib.nullcontext)
        self._fake = self._z = self._code = None
        self.fixed_x = self.fixed_z = None

    @property
    def wants_labels(self) -> bool:
        return False

    def use_data(self, data) -> None:
        self.fixed_x = data.x[:FIXED_BATCH].to(self.device)   # the data come shuffled by the seed
        self.fixed_z = sampling.fixed_noise(self.spec.z_dim, FIXED_BATCH, self.cfg.sample_seed + 2).to(self.device)

    # ------------------------------------------------------------------ the step
    def d_step(self, batch: Batch) -> dict[str, Tensor]:
        x, B = batch.x, batch.x.shape[0]
        G, E, D = self.modules["G"], self.modules["E"], self.modules["D"]
        z = torch.randn(B, self.cfg.z_dim, device=self.device)
        with self.amp():
            fake = G(z)
            code = E(x)
            self._fake, self._z, self._code = fake, z, code
            r = D(x, code.detach()).float()
            f = D(fake.detach(), z).float()
            loss_d = F.softplus(-r).mean() + F.softplus(f).mean()
        opt = self.optimizers["opt_d"]
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        stats = {}
        if batch.measure:
            stats["grad_norm_d"] = grad_norm(D)
        opt.step()
        with torch.no_grad():
            stats.update(loss_d=loss_d.detach().float(), d_real=torch.sigmoid(r).mean(),
                         d_fake=torch.sigmoid(f).mean())
        return stats

    def redraw(self, batch: Batch) -> None:
        """Fresh noise and fakes, and the encoder's codes of the real batch again (E has just moved),
        for one more G and E update (``g_steps`` above 1)."""
        z = torch.randn(batch.x.shape[0], self.cfg.z_dim, device=self.device)
        with self.amp():
            self._fake, self._z, self._code = self.modules["G"](z), z, self.modules["E"](batch.x)

    def g_step(self, batch: Batch) -> dict[str, Tensor]:
        D = self.modules["D"]
        with self.amp():
            r = D(batch.x, self._code).float()
            f = D(self._fake, self._z).float()
            # non-saturating for both: E wants its pairs called generated, G its pairs called real
            loss_g = F.softplus(r).mean() + F.softplus(-f).mean()
        opt = self.optimizers["opt_g"]
        opt.zero_grad(set_to_none=True)
        loss_g.backward(inputs=self.ge_params)
        stats = {}
        if batch.measure:
            stats["grad_norm_g"] = grad_norm(self.generator)
        opt.step()
        stats["loss_g"] = loss_g.detach().float()
        return stats

    def end_step(self) -> None:
        self._fake = self._z = self._code = None

    # ------------------------------------------------------------------ after each epoch
    @torch.no_grad()
    def errors(self) -> tuple[float, float]:
        """(mean |x − G(E(x))|, mean |z − E(G(z))|) on the fixed batch, in eval mode."""
        G, E = self.modules["G"], self.modules["E"]
        modes = [m.training for m in (G, E)]
        G.eval()
        E.eval()
        try:
            x = self.fixed_x.float().div(127.5).sub(1.0)
            recon = (x - G(E(x)).float()).abs().mean()
            latent = (self.fixed_z - E(G(self.fixed_z)).float()).abs().mean()
            return float(recon), float(latent)
        finally:
            G.train(modes[0])
            E.train(modes[1])

    @torch.no_grad()
    def same_class(self, info) -> float | None:
        """The share of the fixed real images x whose G(E(x)) the quality classifier puts in x's class
        (as it reads x); None where the project has no classifier for the data."""
        scorer = quality.scorer_for(info.name, info.image_size, info.channels)
        if isinstance(scorer, str):
            return None
        G, E = self.modules["G"], self.modules["E"]
        modes = [m.training for m in (G, E)]
        G.eval()
        E.eval()
        try:
            x = self.fixed_x.float().div(127.5).sub(1.0)
            back = G(E(x)).float()
            _, p_real = scorer.outputs(x)
            _, p_back = scorer.outputs(back)
            return float((p_real.argmax(1) == p_back.argmax(1)).float().mean())
        finally:
            G.train(modes[0])
            E.train(modes[1])

    def epoch_records(self, epoch: int, data) -> list[dict]:
        recon, latent = self.errors()
        rec = {"type": RECORD, "epoch": epoch, "recon_error": recon, "latent_error": latent}
        kept = self.same_class(data.info)
        if kept is not None:
            rec["recon_same_class"] = kept
        return [rec]


def encode(E: nn.Module, x: Tensor, chunk: int = 256) -> Tensor:
    """E's codes [N, z_dim] for images [N, C, H, W] in [-1, 1] (eval mode, CPU or E's device)."""
    E.eval()
    with torch.inference_mode():
        return torch.cat([E(x[i:i + chunk].float()).float() for i in range(0, len(x), chunk)]) \
            if len(x) else torch.zeros(0, E.z_dim)


STEP = BiGan
