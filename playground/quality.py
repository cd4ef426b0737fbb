"""An honest quality figure for generated samples, computed after every epoch.

**Images (MNIST, Fashion-MNIST).** A small CNN classifier, trained by ``scripts/train_classifier.py``
on the real training images and shipped in ``pretrained/classifiers/<dataset>.{safetensors,json}``,
looks at a batch of generated images (the fixed grid batch plus fresh samples) and gives three
numbers:

- ``fd``: the Fréchet distance between the generated images and the real *test* images in the
  classifier's penultimate features (128 numbers per image): ``|mu_g - mu_r|² + tr(S_g + S_r -
  2 (S_g S_r)^½)``. Lower is better. Its scale is set by two reference points stored with the
  classifier and computed with the same number of images: real training images against the test
  images (the floor, what a perfect generator would score) and pure noise images (the ceiling).
  It is the recipe of FID but in a different, much smaller feature space, so its values are **not
  comparable with FID in Inception features** (nor across the MNIST and Fashion-MNIST classifiers).
- ``confident``: the share of images the classifier is sure about (max softmax ≥ 0.9,
  ``CONFIDENT_P``). Real images score about 0.7 (Fashion-MNIST) and 0.93 (MNIST), blurry in-between
  images low; noise may fool it (the MNIST classifier calls uniform noise one digit), so read it
  with ``fd`` and ``classes``.
- ``classes``: how many classes hold at least 1 % (``CLASS_SHARE``) of the confident predictions,
  out of 10. A generator that only makes trousers scores 1 even when its trousers are perfect.

**2D toys with point modes (ring, grid).** ``modes_covered`` of ``modes``: a mode counts as covered
when at least ``MODE_SHARE`` of its fair share of points (20 % of 1/M) lie within 3 std of its centre;
``off_mode``: the share of points farther than 3 std from every centre (0 for a perfect generator,
about 0 % on the real data).

**Everything else** (CIFAR-10, folders of images, spiral, moons, a missing classifier file) has no
quality figure: :func:`quality_for` returns ``{"available": False, "reason": ...}`` and nothing is
invented.

Nothing here is unpickled: the classifier is safetensors + JSON with its sha256 (checked on load).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import checkpoint, sampling
from .data import toy_modes
from .data.toy import TOY_STD

CLASSIFIER_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "classifiers"
CLASSIFIER_DATASETS = ("mnist", "fashion-mnist")
FEATURE_DIM = 128
CONFIDENT_P = 0.9      # a prediction is "confident" when its max softmax is at least this
CLASS_SHARE = 0.01     # a class counts as produced when it holds ≥ 1 % of the confident predictions
MODE_STDS = 3.0        # a toy point is "on" a mode within this many std of its centre
MODE_SHARE = 0.2       # a mode is covered with ≥ 20 % of its fair share (1/M) of the points
BATCH = 500            # images per forward pass: bounds memory, keeps the CPU cost predictable


class QualityError(ValueError):
    """A classifier file that is missing, damaged or does not fit."""


class Classifier(nn.Module):
    """Small CNN for 28×28 grey images in [-1, 1].

    x [N, 1, 28, 28] → conv 3×3 (16) → ReLU → pool → [N, 16, 14, 14] → conv 3×3 (32) → ReLU → pool
    → [N, 32, 7, 7] → flatten → linear 1568→128 → ReLU = features [N, 128] → linear → logits [N, 10].
    """

    def __init__(self, num_classes: int = 10, width: int = 16, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 49, feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(0.3)   # active only while the classifier trains
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, 28, 28] in [-1, 1] → [N, feature_dim]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, 28, 28] → logits [N, num_classes]."""
        return self.head(self.dropout(self.features(x)))


# ----------------------------------------------------------------------------- statistics
def feature_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, D] features → (mean [D], covariance [D, D]) in float64."""
    f = feats.double()
    mu = f.mean(0)
    d = f - mu
    return mu, d.T @ d / max(f.shape[0] - 1, 1)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix via eigh (negative noise clipped)."""
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """|mu1 - mu2|² + tr(cov1 + cov2 - 2 (cov1 cov2)^½).

    tr((cov1 cov2)^½) equals the sum of the square roots of the eigenvalues of the symmetric
    matrix cov1^½ cov2 cov1^½, which eigh handles stably (no scipy, no complex parts)."""
    mu1, mu2, cov1, cov2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, cov1, cov2))
    s1 = _sqrt_psd(cov1)
    cross = torch.linalg.eigvalsh(s1 @ cov2 @ s1).clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * cross
    return max(float(value), 0.0)


def class_summary(probs: torch.Tensor, num_classes: int) -> dict:
    """Softmax [N, K] → {"confident": share with max p ≥ CONFIDENT_P, "classes": classes holding
    ≥ CLASS_SHARE of the confident predictions, "counts": confident predictions per class [K]}."""
    pmax, pred = probs.max(1)
    sure = pmax >= CONFIDENT_P
    counts = torch.bincount(pred[sure], minlength=num_classes)
    n_sure = int(sure.sum())
    classes = int((counts >= max(1e-9, CLASS_SHARE * n_sure)).sum()) if n_sure else 0
    return {"confident": n_sure / max(len(probs), 1), "classes": classes, "counts": counts.tolist()}


# ----------------------------------------------------------------------------- the classifier
class QualityScorer:
    """A loaded classifier with the test-set feature statistics and the reference points."""

    def __init__(self, model: Classifier, mu: torch.Tensor, cov: torch.Tensor, meta: dict):
        self.model, self.mu, self.cov, self.meta = model.eval(), mu.double(), cov.double(), meta
        self.num_classes = int(meta["num_classes"])

    @torch.no_grad()
    def outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [N, 1, 28, 28] in [-1, 1] (any device) → (features [N, 128], softmax [N, 10]) on the CPU."""
        feats, probs = [], []
        for i in range(0, images.shape[0], BATCH):
            x = images[i:i + BATCH].detach().float().cpu().clamp(-1, 1)
            f = self.model.features(x)
            feats.append(f)
            probs.append(torch.softmax(self.model.head(f), 1))
        return torch.cat(feats), torch.cat(probs)

    def score(self, images: torch.Tensor) -> dict:
        """{"fd", "confident", "classes", "n"} for images [N, 1, 28, 28] in [-1, 1] (N ≥ 2)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise QualityError(f"the classifier takes grey 28×28 images; got shape {tuple(images.shape)}")
        feats, probs = self.outputs(images)
        mu, cov = feature_stats(feats)
        s = class_summary(probs, self.num_classes)
        return {"fd": frechet_distance(mu, cov, self.mu, self.cov), "confident": s["confident"],
                "classes": s["classes"], "n": int(images.shape[0])}


def save_classifier(stem: Path, model: Classifier, mu, cov, meta: dict) -> None:
    """Weights and test statistics as one safetensors file plus its JSON (hash checked on load)."""
    tensors = {**checkpoint.prefixed("net", model.state_dict()),
               "test.mu": torch.as_tensor(mu, dtype=torch.float64),
               "test.cov": torch.as_tensor(cov, dtype=torch.float64)}
    checkpoint.save(stem, tensors, {"kind": "classifier", **meta})


def load_classifier(dataset: str, directory: Path | None = None) -> QualityScorer:
    """Load ``<directory>/<dataset>.{safetensors,json}``; QualityError with a plain message when the
    file is missing, truncated or edited (its sha256 is checked; nothing is unpickled)."""
    stem = Path(directory or CLASSIFIER_DIR) / dataset
    if not stem.with_suffix(".json").is_file():
        raise QualityError(f"the {dataset} quality classifier is missing ({stem}.json); "
                           "make it with python scripts/train_classifier.py")
    try:
        tensors, meta = checkpoint.load(stem)
    except checkpoint.CheckpointError as e:
        raise QualityError(f"the {dataset} quality classifier cannot be used: {e}") from None
    if meta.get("kind") != "classifier":
        raise QualityError(f"{stem}.json is not a quality classifier description")
    try:
        model = Classifier(int(meta["num_classes"]), int(meta["width"]), int(meta["feature_dim"]))
        checkpoint.load_module_state(model, checkpoint.unprefixed("net", tensors), "classifier")
        return QualityScorer(model, tensors["test.mu"], tensors["test.cov"], meta)
    except (KeyError, TypeError, ValueError) as e:
        raise QualityError(f"the {dataset} quality classifier in {stem} is damaged: {e}") from None


def reference_points(meta: dict, n: int) -> dict:
    """The classifier's reference points (floor: ``real_train_vs_test``; ceiling:
    ``uniform_noise_vs_test``, ``gaussian_noise_vs_test``) computed with the sample size closest to
    ``n``; compare a run's figure with the row of its own ``n`` (the distance's bias depends on it)."""
    by_n = meta.get("references_by_n") or {str(meta.get("reference_n", n)): meta["references"]}
    best = min(by_n, key=lambda k: abs(int(k) - n))
    return {"n": int(best), **by_n[best]}


_CACHE: dict[str, QualityScorer | QualityError] = {}


def scorer_for(dataset: str, image_size: int, channels: int) -> QualityScorer | str:
    """The scorer for this data, or the plain reason why there is none."""
    if dataset not in CLASSIFIER_DATASETS:
        return (f"no quality figure for {dataset}: the project ships classifiers for MNIST and "
                f"Fashion-MNIST only, and a number without one would be invented")
    if (image_size, channels) != (28, 1):
        return (f"no quality figure: the {dataset} classifier takes grey 28×28 images, this run makes "
                f"{channels}-channel {image_size}×{image_size} images")
    if dataset not in _CACHE:
        try:
            # Building the classifier draws its initial weights from torch's global generator;
            # keep that generator untouched so a resumed run trains exactly like an uninterrupted one.
            with torch.random.fork_rng(devices=[]):
                _CACHE[dataset] = load_classifier(dataset)
        except QualityError as e:
            _CACHE[dataset] = e
    found = _CACHE[dataset]
    return f"no quality figure: {found}" if isinstance(found, QualityError) else found


# ----------------------------------------------------------------------------- 2D toys
def toy_quality(points: torch.Tensor, dataset: str) -> dict:
    """Points [N, 2] → {"modes_covered", "modes", "off_mode", "n"} for ring and grid."""
    centres = torch.from_numpy(toy_modes(dataset)).double()
    p = points.detach().cpu().double()   # to the CPU first: MPS has no float64
    dist = torch.cdist(p, centres)                      # [N, M]
    near, which = dist.min(1)
    on = near <= MODE_STDS * TOY_STD[dataset]
    m = centres.shape[0]
    counts = torch.bincount(which[on], minlength=m)
    need = MODE_SHARE * p.shape[0] / m
    return {"modes_covered": int((counts >= need).sum()), "modes": m,
            "off_mode": float((~on).double().mean()), "n": int(p.shape[0])}


# ----------------------------------------------------------------------------- one entry point
def not_available(reason: str) -> dict:
    return {"available": False, "reason": reason}


def quality_for(samples: torch.Tensor, dataset: str, kind: str, image_size: int = 0,
                channels: int = 0) -> dict:
    """The quality record of one epoch for generator outputs ``samples`` ([N, C, H, W] images in
    [-1, 1] or [N, 2] points): {"available": True, ...numbers} or {"available": False, "reason"}."""
    reason = unavailable_reason(dataset, kind, image_size, channels)
    if reason:
        return not_available(reason)
    if not bool(torch.isfinite(samples).all()):   # a diverging generator; eigh would fail on NaN
        return not_available("no quality figure this epoch: the generator's outputs are not finite numbers")
    if kind == "points":
        return {"available": True, **toy_quality(samples, dataset)}
    out = scorer_for(dataset, image_size, channels).score(samples)
    if not all(math.isfinite(v) for v in out.values()):
        return not_available("no quality figure this epoch: the distance is not a finite number")
    return {"available": True, **out}


def diversity(samples: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance between samples [N, ...], per sqrt(element): a rough,
    classifier-free measure of how different the fixed grid's samples are (falls under collapse)."""
    x = samples.detach().float().reshape(samples.shape[0], -1).cpu()
    if x.shape[0] < 2:
        return 0.0
    d = torch.cdist(x, x)
    n = x.shape[0]
    return float(d.sum() / (n * (n - 1)) / np.sqrt(x.shape[1]))


def class_diversity(samples: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean of :func:`diversity` within each class (samples [N, ...], labels [N]): how different a
    conditional generator's outputs for one class are across noise vectors. Near 0 while
    :func:`diversity` is large: every class comes out the same whatever the noise."""
    labels = labels.cpu()
    groups = [samples[labels == c] for c in labels.unique()]
    vals = [diversity(gr) for gr in groups if gr.shape[0] >= 2]
    return float(np.mean(vals)) if vals else 0.0


def unavailable_reason(dataset: str, kind: str, image_size: int, channels: int) -> str:
    """Why this data has no quality figure, or "" when it has one."""
    if kind == "points":
        if toy_modes(dataset) is None or dataset not in TOY_STD:
            return f"no quality figure for {dataset}: it has no point modes to count"
        return ""
    s = scorer_for(dataset, image_size, channels)
    return s if isinstance(s, str) else ""


@torch.no_grad()
def epoch_quality(G, fixed_z: torch.Tensor, fixed_y, *, n: int, seed: int, info) -> tuple[dict, dict]:
    """(quality record, {"diversity": of the fixed batch, "class_diversity": within its classes,
    conditional runs only}) of generator G after an epoch.

    Scores ``n`` outputs: the fixed grid batch (``fixed_z`` [B, z_dim], ``fixed_y`` [B] or None)
    followed by fresh samples from noise seeded with ``seed`` (the same noise every epoch, so epochs
    differ only by the generator; conditional runs cycle through the classes). G runs in eval mode
    as for the sample grid, batched, without gradients. ``info`` is the run's DataInfo."""
    was_training = G.training
    G.eval()
    try:
        fixed = G(fixed_z, fixed_y).float()
        div = {"diversity": diversity(fixed)}
        if fixed_y is not None:
            div["class_diversity"] = class_diversity(fixed, fixed_y)
        if n <= 0:
            return not_available("the quality figure is off for this run (quality_samples = 0)"), div
        reason = unavailable_reason(info.name, info.kind, info.image_size, info.channels)
        if reason:
            return not_available(reason), div
        outs, done = [fixed[:n]], min(n, fixed.shape[0])
        g = torch.Generator().manual_seed(int(seed))
        k = getattr(G, "num_classes", 0)
        while done < n:
            b = min(BATCH, n - done)
            z = sampling.latent_noise(fixed_z.shape[1], b, g, getattr(G, "cont_codes", 0)).to(fixed_z.device)
            y = (torch.arange(done, done + b) % k).to(fixed_z.device) if k else None
            outs.append(G(z, y).float())
            done += b
        return quality_for(torch.cat(outs), info.name, info.kind, info.image_size, info.channels), div
    finally:
        G.train(was_training)


@torch.no_grad()
def code_purity(G, scorer: QualityScorer, n_per_value: int = 500, seed: int = 0) -> dict:
    """How well an InfoGAN generator's categorical code picks one class of the data, as the
    classifier ``scorer`` reads its images: for each code value, ``n_per_value`` images (fresh
    noise and continuous codes from ``seed``) and the share of them in their most frequent
    predicted class. {"purity": mean share over the code values, "per_value": [share, ...],
    "majority": [most frequent class per value], "classes_covered": distinct majority classes}."""
    k = int(G.num_classes)
    if getattr(G, "label_role", "class") != "code" or k < 1:
        raise ValueError("code purity needs an InfoGAN generator with a categorical code")
    g = torch.Generator().manual_seed(int(seed))
    was_training = G.training
    G.eval()
    shares, majority = [], []
    try:
        for value in range(k):
            z = sampling.latent_noise(G.z_dim, n_per_value, g, getattr(G, "cont_codes", 0))
            y = torch.full((n_per_value,), value, dtype=torch.long)
            _, probs = scorer.outputs(G(z, y).float())
            counts = torch.bincount(probs.argmax(1), minlength=scorer.num_classes)
            majority.append(int(counts.argmax()))
            shares.append(float(counts.max()) / n_per_value)
    finally:
        G.train(was_training)
    return {"purity": float(np.mean(shares)), "per_value": shares, "majority": majority,
            "classes_covered": len(set(majority))}


def class_agreement(G, scorer: QualityScorer, n_per_class: int = 500, seed: int = 0) -> dict:
    """How often a class-conditioned generator (conditional GAN, AC-GAN) draws the class it is asked
    for, as the classifier ``scorer`` reads its images: for each class, ``n_per_class`` images from
    fresh noise (``seed``) and the share the classifier puts in that class. {"agreement": mean share,
    "per_class": [share, ...]}."""
    k = int(G.num_classes)
    if getattr(G, "label_role", "class") != "class" or k < 1:
        raise ValueError("class agreement needs a generator conditioned on the data's classes")
    if k != scorer.num_classes:
        raise ValueError(f"the generator has {k} classes and the classifier {scorer.num_classes}")
    g = torch.Generator().manual_seed(int(seed))
    was_training = G.training
    G.eval()
    shares = []
    try:
        for c in range(k):
            z = sampling.latent_noise(G.z_dim, n_per_class, g, getattr(G, "cont_codes", 0))
            y = torch.full((n_per_class,), c, dtype=torch.long)
            _, probs = scorer.outputs(G(z, y).float())
            shares.append(float((probs.argmax(1) == c).float().mean()))
    finally:
        G.train(was_training)
    return {"agreement": float(np.mean(shares)), "per_class": shares}
