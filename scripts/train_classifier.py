"""Train the quality classifiers shipped in pretrained/classifiers/ (see playground/quality.py).

    python scripts/train_classifier.py [--datasets fashion-mnist mnist] [--src ../shared/datasets]

Fashion-MNIST: trained on the 60,000 training images (is_test == 0) of fashion-mnist.npz, tested on
the 10,000 test images (is_test == 1). MNIST: only the first 10,000 training images are at hand
(mnist-10k.npz), so a class-balanced random 2,000 (200 per digit) is held out as the test set and
the other 8,000 train the classifier; the JSON says so.

Written next to the weights (safetensors) and in the JSON: the test accuracy, the mean and
covariance of the test images' 128 penultimate features, and the reference points of the quality
figure computed with ``--ref-n`` images each (2,000, 1,000 and 500: the sizes a run may score per
epoch, because the Fréchet distance of a finite sample is biased upwards and only equal sizes compare):
real training images vs test (the floor), uniform noise and Gaussian noise vs test (the ceiling).
Deterministic for a given seed on the CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import quality  # noqa: E402

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
SOURCES = {"fashion-mnist": "fashion-mnist.npz", "mnist": "mnist-10k.npz"}
MNIST_TEST_PER_CLASS = 200


def load_split(name: str, src: Path, rng: np.random.Generator):
    """(x_train uint8 [N,28,28], y_train, x_test, y_test, note on the split)."""
    with np.load(src / SOURCES[name], allow_pickle=False) as d:
        images, labels = d["images"], d["labels"].astype(np.int64)
        is_test = d["is_test"].astype(bool) if "is_test" in d.files else None
    if is_test is not None:
        note = (f"trained on the {int((~is_test).sum()):,} training images (is_test == 0) of "
                f"{SOURCES[name]}, tested on its {int(is_test.sum()):,} test images (is_test == 1)")
        return images[~is_test], labels[~is_test], images[is_test], labels[is_test], note
    # The file is sorted by label: hold out a class-balanced random draw, never the first N.
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), MNIST_TEST_PER_CLASS, replace=False)
                           for c in range(10)])
    mask = np.zeros(len(labels), bool)
    mask[test] = True
    note = (f"only the first 10,000 MNIST training images are at hand ({SOURCES[name]}): a class-"
            f"balanced random {mask.sum():,} ({MNIST_TEST_PER_CLASS} per digit) are held out as the test "
            f"set and the other {(~mask).sum():,} train the classifier. The bundled MNIST subset "
            f"is drawn from the same 10,000 images, so a GAN trained on it has seen some test images")
    return images[~mask], labels[~mask], images[mask], labels[mask], note


def to_float(x: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] → float [N, 1, 28, 28] in [-1, 1], as the generators produce."""
    return torch.from_numpy(x).float().div(127.5).sub(1.0)[:, None]


def train(model, x, y, epochs: int, batch: int, lr: float, seed: int, log) -> None:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        t0, total = time.time(), 0.0
        for i in range(len(x) // batch):
            idx = perm[i * batch:(i + 1) * batch]
            xb = x[idx]
            # small random shifts (±2 px): features that tolerate the jitter of generated images
            dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        log(f"  epoch {ep + 1}/{epochs}: loss {total / (len(x) // batch):.4f} ({time.time() - t0:.0f} s)")
    model.eval()


def reference(scorer: quality.QualityScorer, images: torch.Tensor) -> dict:
    s = scorer.score(images)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=quality.CLASSIFIER_DIR)
    ap.add_argument("--epochs", type=int, default=5, help="passes over the 60k Fashion-MNIST images")
    ap.add_argument("--mnist-epochs", type=int, default=8, help="passes over the 8k MNIST images")
    ap.add_argument("--ref-n", type=int, nargs="+", default=[2000, 1000, 500],
                    help="images per reference point (the first is the main one)")
    ap.add_argument("--refs-only", action="store_true",
                    help="keep the classifier in --out, recompute its accuracy and reference points")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        print(f"{name}:", flush=True)
        rng = np.random.default_rng([args.seed, list(SOURCES).index(name)])
        torch.manual_seed(args.seed)
        xtr, ytr, xte, yte, note = load_split(name, args.src, rng)
        xtr_f, xte_f = to_float(xtr), to_float(xte)
        ytr_t, yte_t = torch.from_numpy(ytr), torch.from_numpy(yte)
        epochs = args.epochs if name == "fashion-mnist" else args.mnist_epochs
        if args.refs_only:
            old = quality.load_classifier(name, args.out)
            model, epochs = old.model, old.meta["epochs"]
        else:
            model = quality.Classifier()
            train(model, xtr_f, ytr_t, epochs, 128, 2e-3, args.seed, lambda m: print(m, flush=True))
        with torch.no_grad():
            feats, probs = quality.QualityScorer(model, torch.zeros(128), torch.eye(128),
                                                 {"num_classes": 10}).outputs(xte_f)
        acc = float((probs.argmax(1) == yte_t).double().mean())
        mu, cov = quality.feature_stats(feats)
        scorer = quality.QualityScorer(model, mu, cov, {"num_classes": 10})
        g = torch.Generator().manual_seed(args.seed + 1)
        by_n = {}
        for n in args.ref_n:
            train_pick = torch.from_numpy(rng.choice(len(xtr), min(n, len(xtr)), replace=False))
            uniform = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
            gaussian = (torch.randn(n, 1, 28, 28, generator=g) * 0.5).clamp(-1, 1)
            by_n[str(n)] = {"real_train_vs_test": reference(scorer, xtr_f[train_pick]),
                            "uniform_noise_vs_test": reference(scorer, uniform),
                            "gaussian_noise_vs_test": reference(scorer, gaussian)}
        n = args.ref_n[0]
        refs = by_n[str(n)]
        meta = {
            "dataset": name, "num_classes": 10, "class_names": CLASS_NAMES[name],
            "width": 16, "feature_dim": quality.FEATURE_DIM, "input": "grey 28x28 images in [-1, 1]",
            "architecture": "conv3x3(16)-relu-pool, conv3x3(32)-relu-pool, linear 1568->128-relu "
                            "(the features), linear 128->10",
            "split": note, "train_images": int(len(xtr)), "test_images": int(len(xte)),
            "test_accuracy": round(acc, 4), "epochs": epochs, "seed": args.seed,
            "confident_p": quality.CONFIDENT_P, "class_share": quality.CLASS_SHARE,
            "reference_n": n, "references": refs, "references_by_n": by_n,
            "meaning": ("fd: Frechet distance in this classifier's 128 penultimate features against the "
                        "test images (lower is better; real_train_vs_test is the floor, the noise rows "
                        "the ceiling; not comparable with FID in Inception features). confident: share "
                        f"of images with max softmax >= {quality.CONFIDENT_P}. classes: classes holding "
                        f">= {quality.CLASS_SHARE:.0%} of the confident predictions."),
        }
        quality.save_classifier(args.out / name, model, mu, cov, meta)
        size = (args.out / f"{name}.safetensors").stat().st_size
        print(f"  test accuracy {acc:.4f}; {size / 1e6:.2f} MB")
        for m, r in by_n.items():
            for k, v in r.items():
                print(f"  n={m} {k}: {v}")


if __name__ == "__main__":
    main()
