"""GAN objectives on raw discriminator logits.

Every objective is a pair of scalar losses, written in numerically stable forms: ``softplus`` on
logits instead of ``log(sigmoid(.))``, and never a Sigmoid layer followed by ``BCELoss`` (which
saturates to log(0) once D is confident). With s = sigmoid:

    objective  L_D                                         L_G
    bce        -log s(r) - log(1 - s(f))                    -log s(f)          (non-saturating, default)
    minimax    same as bce                                  log(1 - s(f))      (Goodfellow 2014, saturating)
    lsgan      0.5 (r - 1)^2 + 0.5 f^2                      0.5 (f - 1)^2      (Mao et al. 2017)
    hinge      relu(1 - r) + relu(1 + f)                    -f                 (Lim & Ye 2017; Miyato 2018)
    wgan-gp    f - r   (+ gp_weight * gradient_penalty)     -f                 (Gulrajani et al. 2017)

each averaged over the batch (r = D(real), f = D(G(z)), both [N]). Identities used below:
-log s(x) = softplus(-x) and -log(1 - s(x)) = softplus(x).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import OBJECTIVES, objective as _objective  # noqa: F401  (OBJECTIVES: the names)


def check_objective(objective: str) -> None:
    """Raise ``ValueError`` unless ``objective`` is one of the registry's objectives."""
    _objective(objective)


def d_loss(objective: str, real_logits: Tensor, fake_logits: Tensor, *, real_target: float = 1.0) -> Tensor:
    """Discriminator loss (scalar) from D's logits on real and on fake data.

    ``real_target`` < 1 is one-sided label smoothing: real data are labelled ``real_target`` instead
    of 1 (bce, minimax, lsgan); fakes stay at 0. Hinge and wgan-gp have no labels and ignore it.
    For wgan-gp the caller adds ``gp_weight * gradient_penalty(...)``.
    """
    check_objective(objective)
    if not 0.0 <= real_target <= 1.0:
        raise ValueError(f"real_target must be in [0, 1] (1 = no label smoothing); got {real_target!r}")
    r, f = real_logits, fake_logits
    if objective in ("bce", "minimax"):
        if real_target == 1.0:
            real_term = F.softplus(-r).mean()  # -log sigmoid(r)
        else:
            real_term = F.binary_cross_entropy_with_logits(r, torch.full_like(r, real_target))
        return real_term + F.softplus(f).mean()  # -log(1 - sigmoid(f))
    if objective == "lsgan":
        return 0.5 * (r - real_target).pow(2).mean() + 0.5 * f.pow(2).mean()
    if objective == "hinge":
        return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
    return f.mean() - r.mean()  # wgan-gp: the negated Wasserstein estimate


def g_loss(objective: str, fake_logits: Tensor) -> Tensor:
    """Generator loss (scalar) from D's logits on fake data."""
    check_objective(objective)
    f = fake_logits
    if objective == "bce":
        return F.softplus(-f).mean()  # -log sigmoid(f): strong gradient while D rejects fakes
    if objective == "minimax":
        return -F.softplus(f).mean()  # log(1 - sigmoid(f)): saturates (tiny gradient) when D wins
    if objective == "lsgan":
        return 0.5 * (f - 1.0).pow(2).mean()
    return -f.mean()  # hinge and wgan-gp


def gradient_penalty(D, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): mean over the batch of (||grad_x D(x_hat)||_2 - 1)^2.

    x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per example. Works for images
    [N, C, H, W] and points [N, 2]; ``y`` (labels [N]) is passed to D for conditional critics: the
    training loop passes the fakes' labels (the real batch's, except for replayed fakes, which keep
    their own). The graph is kept (create_graph=True) so the penalty can be
    backpropagated into D's parameters. Returns a scalar.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape; got {list(real.shape)} and {list(fake.shape)}")
    real, fake = real.detach(), fake.detach()
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)  # [N, ...]
    out = D(x_hat, y)  # [N]
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)  # [N, ...]
    grad_norm = grad.flatten(1).norm(2, dim=1)  # [N]
    return (grad_norm - 1.0).pow(2).mean()


def probabilities(objective: str, logits: Tensor) -> Tensor | None:
    """D's output as a probability of "real", for display only; ``None`` when it has no such meaning.

    bce/minimax: sigmoid(logits). lsgan: the raw output (trained towards 1 for real, 0 for fake)
    clamped to [0, 1]. hinge and wgan-gp: None (the outputs are unbounded scores).
    """
    kind = _objective(objective).probability
    if kind == "sigmoid":
        return torch.sigmoid(logits)
    if kind == "clamp":
        return logits.clamp(0.0, 1.0)
    return None
