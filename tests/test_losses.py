"""Closed-form values of the GAN objectives and the WGAN-GP gradient penalty."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from playground.losses import OBJECTIVES, d_loss, g_loss, gradient_penalty, probabilities

LOG2 = math.log(2.0)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# ---------------------------------------------------------------------------- closed forms
def test_bce_at_zero_logits() -> None:
    zeros = torch.zeros(5)
    assert d_loss("bce", zeros, zeros).item() == pytest.approx(2 * LOG2)
    assert g_loss("bce", zeros).item() == pytest.approx(LOG2)


def test_minimax_at_zero_logits() -> None:
    zeros = torch.zeros(5)
    assert d_loss("minimax", zeros, zeros).item() == pytest.approx(2 * LOG2)
    assert g_loss("minimax", zeros).item() == pytest.approx(-LOG2)


def test_bce_values_at_known_points() -> None:
    r, f = t(2.0, -1.0), t(0.5, 3.0)
    expected_d = (softplus(-2) + softplus(1)) / 2 + (softplus(0.5) + softplus(3)) / 2
    assert d_loss("bce", r, f).item() == pytest.approx(expected_d, rel=1e-6)
    assert g_loss("bce", f).item() == pytest.approx((softplus(-0.5) + softplus(-3)) / 2, rel=1e-6)
    assert g_loss("minimax", f).item() == pytest.approx(-(softplus(0.5) + softplus(3)) / 2, rel=1e-6)
    # the same numbers as the textbook -log(sigmoid) form
    s = torch.sigmoid
    textbook = -(torch.log(s(r)).mean() + torch.log(1 - s(f)).mean())
    assert d_loss("bce", r, f).item() == pytest.approx(textbook.item(), rel=1e-6)


def test_bce_label_smoothing() -> None:
    r, f = t(2.0), t(0.0)
    # real term: -(0.9 log s(2) + 0.1 log(1 - s(2))) = 0.9 softplus(-2) + 0.1 softplus(2); fake term log 2
    expected = 0.9 * softplus(-2) + 0.1 * softplus(2) + LOG2
    for objective in ("bce", "minimax"):
        assert d_loss(objective, r, f, real_target=0.9).item() == pytest.approx(expected, rel=1e-6)
    # smoothing never changes the fake term: at zero logits any target gives log 2 + log 2
    assert d_loss("bce", t(0.0), t(0.0), real_target=0.7).item() == pytest.approx(2 * LOG2)


def test_lsgan() -> None:
    assert d_loss("lsgan", t(1.0, 1.0), t(0.0, 0.0)).item() == pytest.approx(0.0)
    assert d_loss("lsgan", t(0.0), t(1.0)).item() == pytest.approx(1.0)
    assert d_loss("lsgan", t(1.0), t(0.0), real_target=0.9).item() == pytest.approx(0.5 * 0.01)
    assert g_loss("lsgan", t(1.0)).item() == pytest.approx(0.0)
    assert g_loss("lsgan", t(0.0, 3.0)).item() == pytest.approx(0.5 * (1 + 4) / 2)


def test_hinge() -> None:
    assert d_loss("hinge", t(2.0), t(-2.0)).item() == pytest.approx(0.0)
    assert d_loss("hinge", t(0.0), t(0.0)).item() == pytest.approx(2.0)
    assert d_loss("hinge", t(0.5, 3.0), t(-0.5, 1.0)).item() == pytest.approx(0.25 + 1.25)
    assert g_loss("hinge", t(1.0, -3.0)).item() == pytest.approx(1.0)
    # no labels: smoothing is ignored
    assert d_loss("hinge", t(0.0), t(0.0), real_target=0.9).item() == pytest.approx(2.0)


def test_wgan() -> None:
    r, f = t(1.0, 3.0), t(0.0, 2.0)
    assert d_loss("wgan-gp", r, f).item() == pytest.approx(1.0 - 2.0)
    assert d_loss("wgan-gp", r, f, real_target=0.9).item() == pytest.approx(-1.0)
    assert g_loss("wgan-gp", f).item() == pytest.approx(-1.0)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_losses_are_scalars(objective: str) -> None:
    r, f = torch.randn(6), torch.randn(6)
    assert d_loss(objective, r, f).dim() == 0
    assert g_loss(objective, f).dim() == 0


# ------------------------------------------------------------------------ numerical stability
@pytest.mark.parametrize("objective", ("bce", "minimax"))
def test_extreme_logits_stay_finite(objective: str) -> None:
    # A Sigmoid + BCELoss pipeline gives log(0) here; the softplus forms do not.
    r = torch.tensor([200.0, -200.0], requires_grad=True)
    f = torch.tensor([-200.0, 200.0], requires_grad=True)
    loss_d = d_loss(objective, r, f)
    assert loss_d.item() == pytest.approx((0 + 200) / 2 + (0 + 200) / 2)
    loss_g = g_loss(objective, f)
    (loss_d + loss_g).backward()
    assert torch.isfinite(loss_g) and torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()


def test_minimax_saturates_and_bce_does_not() -> None:
    # When D confidently rejects a fake (f << 0) the minimax G gradient vanishes; the bce one does not.
    f1 = torch.tensor([-10.0], requires_grad=True)
    g_loss("minimax", f1).backward()
    f2 = torch.tensor([-10.0], requires_grad=True)
    g_loss("bce", f2).backward()
    assert abs(f1.grad.item()) < 1e-4
    assert f2.grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_bce_matches_torch_reference() -> None:
    torch.manual_seed(0)
    r, f = torch.randn(8), torch.randn(8)
    ref = F.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.8)) + F.binary_cross_entropy_with_logits(
        f, torch.zeros_like(f)
    )
    torch.testing.assert_close(d_loss("bce", r, f, real_target=0.8), ref)
    torch.testing.assert_close(g_loss("bce", f), F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))


# -------------------------------------------------------------------------- bad arguments
def test_unknown_objective() -> None:
    x = torch.zeros(2)
    for call in (lambda: d_loss("wgan", x, x), lambda: g_loss("gan", x), lambda: probabilities("bce ", x)):
        with pytest.raises(ValueError, match="bce, minimax, lsgan, hinge, wgan-gp"):
            call()


@pytest.mark.parametrize("target", (-0.1, 1.5))
def test_real_target_out_of_range(target: float) -> None:
    with pytest.raises(ValueError, match="real_target"):
        d_loss("bce", torch.zeros(2), torch.zeros(2), real_target=target)


# ------------------------------------------------------------------------- gradient penalty
class LinearCritic(torch.nn.Module):
    """D(x) = w . flatten(x): its input gradient is w everywhere, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)
        self.seen_y: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.seen_y = y
        return x.flatten(1) @ self.w


def _unit(n: int) -> torch.Tensor:
    w = torch.randn(n)
    return w / w.norm()


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4), (3, 2, 2)])
@pytest.mark.parametrize("scale, expected", [(1.0, 0.0), (3.0, 4.0), (0.0, 1.0)])
def test_gradient_penalty_linear_critic(shape: tuple[int, ...], scale: float, expected: float) -> None:
    torch.manual_seed(0)
    n = math.prod(shape)
    critic = LinearCritic(_unit(n) * scale)
    real, fake = torch.randn(5, *shape), torch.randn(5, *shape)
    gp = gradient_penalty(critic, real, fake)
    assert gp.dim() == 0
    assert gp.item() == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_backpropagates_into_critic() -> None:
    torch.manual_seed(0)
    w = _unit(2) * 3.0
    critic = LinearCritic(w.clone())
    gp = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 2 * w / 3
    torch.testing.assert_close(critic.w.grad, 4.0 * w / 3.0)


def test_gradient_penalty_passes_labels_and_detaches_inputs() -> None:
    critic = LinearCritic(_unit(2))
    real = torch.randn(3, 2, requires_grad=True)
    fake = torch.randn(3, 2, requires_grad=True)
    y = torch.tensor([0, 1, 2])
    gradient_penalty(critic, real, fake, y).backward()
    assert critic.seen_y is y
    assert real.grad is None and fake.grad is None  # G gets no gradient through the penalty


def test_gradient_penalty_interpolates_per_example() -> None:
    # A critic whose gradient at x is x itself (D = 0.5 ||x||^2) reveals the interpolation points.
    class Quadratic(torch.nn.Module):
        def forward(self, x, y=None):
            self.x_hat = x.detach().clone()
            return 0.5 * x.flatten(1).pow(2).sum(1)

    critic = Quadratic()
    real, fake = torch.ones(64, 2), torch.zeros(64, 2)
    gradient_penalty(critic, real, fake)
    eps = critic.x_hat[:, 0]
    assert torch.equal(critic.x_hat[:, 0], critic.x_hat[:, 1])  # one eps per example, not per value
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.1  # and different across examples


def test_gradient_penalty_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(LinearCritic(_unit(2)), torch.zeros(3, 2), torch.zeros(4, 2))


# ----------------------------------------------------------------------------- probabilities
def test_probabilities() -> None:
    logits = t(-2.0, 0.0, 0.5, 3.0)
    for objective in ("bce", "minimax"):
        torch.testing.assert_close(probabilities(objective, logits), torch.sigmoid(logits))
    torch.testing.assert_close(probabilities("lsgan", logits), t(0.0, 0.0, 0.5, 1.0))
    assert probabilities("hinge", logits) is None
    assert probabilities("wgan-gp", logits) is None
