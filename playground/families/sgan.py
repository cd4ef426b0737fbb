"""The semi-supervised GAN (Odena 2016; Salimans et al. 2016, "Improved Techniques for Training GANs").

D is a classifier with K class outputs l_1..l_K, and "generated" is its K+1-th class. As in Salimans
et al., the logit of that class is fixed at 0, so with Z = sum_k exp(l_k)

    P(real | x) = Z / (Z + 1) = sigmoid(logsumexp(l)),    P(class k | x, real) = softmax(l)_k.

D's loss is the supervised cross-entropy on a batch of the N labelled images plus the unsupervised
real/fake loss (-log P(real | x) on real images, -log(1 - P(real | G(z))) on fakes) on every training
image, labelled or not. G learns by feature matching (Salimans et al.): it makes the mean of D's
last hidden features on its fakes equal that on the real batch, the choice that paper found best for
semi-supervised accuracy. ``loss_g`` is that squared distance.

The images: a class-balanced test split (``test_split``: a fifth of the loaded images, at most
2,000) is held out of training altogether (the loop never draws it); the N labelled images
(``labelled``, class-balanced) are drawn from the rest; both with the run's seed, so a resume and a
second run with the same data and seed use the same images. The labels of every other image never
reach the step. After each epoch the run records D's accuracy as a classifier on the held-out test
images, and, beside it, the accuracy of the same network trained without the GAN (same D, the same N
labelled images, the same Adam settings, ``BASELINE_STEPS`` updates), computed once per run (again
after a resume, identically on the CPU) with its own random numbers, so it changes nothing in the
training run's.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.common import select_indices
from ..i18n import msg
from ..models import build_models
from .base import Batch, GanStep, build_pair, grad_norm

TEST_SHARE = 5            # one image in five is held out as test images ...
TEST_MAX = 2000           # ... at most this many
BASELINE_STEPS = 300      # Adam updates of the supervised-only baseline (on MNIST with 100 labels its test
# accuracy was flat from 100 to 800 updates: 74.9%, 74.7%, 74.3%, 74.2% for an MLP D)
EVAL_CHUNK = 500
RECORD = "sgan"           # the metrics records' type


def real_probability(logits: Tensor) -> Tensor:
    """P(real | x) = Z / (Z + 1) with Z = sum_k exp(l_k), for class logits [N, K]: [N]."""
    return torch.sigmoid(torch.logsumexp(logits, dim=1))


def unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-mean log P(real | x) - mean log(1 - P(real | G(z))): softplus(-lse) and softplus(lse)."""
    lse_r, lse_f = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    return F.softplus(-lse_r).mean() + F.softplus(lse_f).mean()


def feature_matching(real_h: Tensor, fake_h: Tensor) -> Tensor:
    """|| mean f(x) - mean f(G(z)) ||^2 over D's hidden features (flattened)."""
    return (real_h.flatten(1).mean(0) - fake_h.flatten(1).mean(0)).pow(2).sum()


def _split_seed(cfg, part: int) -> list[int]:
    return [int(cfg.seed), 2016, part]   # its own stream: not the data subset's, not training's


def test_split(labels: np.ndarray, seed) -> np.ndarray:
    """Indices of the held-out test images: class-balanced, a fifth of the images (at most 2,000)."""
    n = len(labels)
    k = min(TEST_MAX, n // TEST_SHARE)
    return np.sort(select_indices(labels, n, k, seed)) if k > 0 else np.zeros(0, dtype=np.int64)


def labelled_subset(labels: np.ndarray, train: np.ndarray, n: int, seed) -> np.ndarray:
    """``n`` indices among ``train`` (indices into ``labels``), class-balanced, drawn with ``seed``."""
    pick = select_indices(labels[train], len(train), n, seed)
    return np.sort(train[pick])


def split_indices(data, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, labelled, test) indices into the data, as the run uses them."""
    if data.y is None:
        raise ValueError(msg("the semi-supervised GAN needs class labels, and this dataset has none"))
    y = data.y.cpu().numpy()
    test = test_split(y, _split_seed(cfg, 1))
    train = np.setdiff1d(np.arange(len(y)), test)
    if cfg.labelled > len(train):
        raise ValueError(msg("labelled: {n} labelled images were asked for, but only {m} training images "
                             "are left after holding out {t} test images", n=cfg.labelled, m=len(train),
                             t=len(test)))
    return train, labelled_subset(y, train, cfg.labelled, _split_seed(cfg, 2)), test


@torch.no_grad()
def accuracy(D, x_uint8: Tensor, y: Tensor) -> float:
    """D's classification accuracy (argmax over its K class outputs) on uint8 images, in eval mode."""
    was = D.training
    D.eval()
    try:
        right = 0
        for i in range(0, len(x_uint8), EVAL_CHUNK):
            x = x_uint8[i:i + EVAL_CHUNK].float().div(127.5).sub(1.0)
            right += int((D(x).argmax(1) == y[i:i + EVAL_CHUNK]).sum())
        return right / max(1, len(x_uint8))
    finally:
        D.train(was)


def train_baseline(spec, cfg, x_lab: Tensor, y_lab: Tensor, steps: int | None = None):
    """The same D trained on the labelled images alone (cross-entropy over its K outputs), with the
    run's Adam settings, for ``steps`` updates on batches drawn at random from them. Its own random
    numbers (seeded by the run's seed): the training run's generators are left as they were."""
    steps = BASELINE_STEPS if steps is None else steps
    device = x_lab.device
    fork = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(int(cfg.seed) + 7)
        _, D = build_models(spec)
        D.to(device).train()
        opt = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                               weight_decay=cfg.weight_decay)
        b = min(cfg.batch_size, len(x_lab))
        for _ in range(steps):
            idx = torch.randint(0, len(x_lab), (b,), device=device)
            x = x_lab[idx].float().div(127.5).sub(1.0)
            loss = F.cross_entropy(D(x).float(), y_lab[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return D


class SemiSupervisedGan(GanStep):
    D_STATS = ("loss_d", "loss_sup", "loss_unsup", "d_real", "d_fake", "acc_labelled")
    G_STATS = ("loss_g",)
    GAUGES = ("grad_norm_d", "grad_norm_g")
    # d_real/d_fake are probabilities of "real" (Z / (Z + 1)) and are charted as such, but the
    # failure-mode monitor is not given them: its "D wins" warning (D rejects every fake, so G gets no
    # gradient) does not hold for feature matching, whose gradient comes from D's features, and a D
    # that rejects nearly every fake is the usual state of a semi-supervised GAN (Salimans et al.).
    has_probabilities = False

    @classmethod
    def adapt_spec(cls, spec, cfg, info):
        if not info.num_classes:
            raise ValueError(msg("the semi-supervised GAN needs class labels, and this dataset has none"))
        return dataclasses.replace(spec, num_classes=0, d_outputs=info.num_classes, d_labels=False)

    @classmethod
    def train_indices(cls, data, cfg) -> Tensor:
        return torch.from_numpy(split_indices(data, cfg)[0])

    def __init__(self, cfg, spec, plan, device: torch.device, steps_per_epoch: int):
        self.cfg, self.spec, self.plan, self.device = cfg, spec, plan, device
        G, D, opt_g, opt_d = build_pair(cfg, spec, plan, device)
        self.modules = {"G": G, "D": D}
        self.optimizers = {"opt_g": opt_g, "opt_d": opt_d}
        self.g_params = [p for p in G.parameters() if p.requires_grad]
        self.amp = ((lambda: torch.autocast(device_type=device.type, dtype=plan.autocast))
                    if plan.autocast is not None else contextlib.nullcontext)
        self.x_lab = self.y_lab = self.x_test = self.y_test = None
        self.baseline = None
        self._fake = self._real_h = None

    @property
    def wants_labels(self) -> bool:
        return False   # the N labelled images are the family's own (use_data); no other label is read

    def use_data(self, data) -> None:
        _, lab, test = split_indices(data, self.cfg)
        dev = self.device
        lab_t, test_t = torch.from_numpy(lab).to(data.x.device), torch.from_numpy(test).to(data.x.device)
        self.x_lab, self.y_lab = data.x[lab_t].to(dev), data.y[lab_t].to(dev)
        self.x_test, self.y_test = data.x[test_t].to(dev), data.y[test_t].to(dev)
        self.labelled_index = lab

    # ------------------------------------------------------------------ the step
    def d_step(self, batch: Batch) -> dict[str, Tensor]:
        real, B = batch.x, batch.x.shape[0]
        n_lab = min(B, self.x_lab.shape[0])
        idx = torch.randint(0, self.x_lab.shape[0], (n_lab,), device=self.device)
        x_lab = self.x_lab[idx].float().div_(127.5).sub_(1.0).to(real.dtype)
        if real.dim() == 4 and real.is_contiguous(memory_format=torch.channels_last):
            x_lab = x_lab.contiguous(memory_format=torch.channels_last)
        y_lab = self.y_lab[idx]
        z = torch.randn(B, self.cfg.z_dim, device=self.device)
        D = self.discriminator
        with self.amp():
            fake = self.generator(z)
            self._fake = fake
            both = D(torch.cat([x_lab, real]))            # one batch of real images: [n_lab + B, K]
            f = D(fake.detach()).float()
            lab_logits, r = both[:n_lab].float(), both[n_lab:].float()
            loss_sup = F.cross_entropy(lab_logits, y_lab)
            loss_unsup = unsupervised_loss(r, f)
            loss_d = loss_sup + loss_unsup
        opt = self.optimizers["opt_d"]
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        stats = {}
        if batch.measure:
            stats["grad_norm_d"] = grad_norm(D)
        opt.step()
        with torch.no_grad():
            stats.update(loss_d=loss_d.detach().float(), loss_sup=loss_sup.detach().float(),
                         loss_unsup=loss_unsup.detach().float(),
                         d_real=real_probability(r).mean(), d_fake=real_probability(f).mean(),
                         acc_labelled=(lab_logits.argmax(1) == y_lab).float().mean())
        return stats

    def redraw(self, batch: Batch) -> None:
        """Fresh fakes for one more G update (``g_steps`` above 1)."""
        z = torch.randn(batch.x.shape[0], self.cfg.z_dim, device=self.device)
        with self.amp():
            self._fake = self.generator(z)

    def g_step(self, batch: Batch) -> dict[str, Tensor]:
        D = self.discriminator
        with self.amp():
            with torch.no_grad():
                real_h = D.body(batch.x)
            fake_h = D.body(self._fake)
            loss_g = feature_matching(real_h.float(), fake_h.float())
        opt = self.optimizers["opt_g"]
        opt.zero_grad(set_to_none=True)
        loss_g.backward(inputs=self.g_params)
        stats = {}
        if batch.measure:
            stats["grad_norm_g"] = grad_norm(self.generator)
        opt.step()
        stats["loss_g"] = loss_g.detach().float()
        return stats

    def end_step(self) -> None:
        self._fake = None

    # ------------------------------------------------------------------ after each epoch
    def epoch_records(self, epoch: int, data) -> list[dict]:
        if self.baseline is None:
            base_d = train_baseline(self.spec, self.cfg, self.x_lab, self.y_lab)
            self.baseline = accuracy(base_d, self.x_test, self.y_test)
        return [{"type": RECORD, "epoch": epoch, "test_accuracy": accuracy(self.discriminator, self.x_test, self.y_test),
                 "baseline_accuracy": self.baseline, "labelled": int(self.x_lab.shape[0]),
                 "test_images": int(self.x_test.shape[0]), "baseline_steps": BASELINE_STEPS}]


STEP = SemiSupervisedGan
