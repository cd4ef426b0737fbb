"""Make the offline default data shipped in playground/data/bundled/ from shared/datasets.

    python scripts/make_bundled_data.py [--src ../shared/datasets] [--out playground/data/bundled]

Each output is a class-balanced random draw (the same count from every class, random within the
class, fixed seed), stored in shuffled order: the source files are sorted by label, so the first N
images would be all zeros and ones. Fashion-MNIST is drawn from its training split (is_test == 0).
MNIST's source is the first 10,000 training images, whose smallest class (digit 5) has 863
images, so its balanced subset is 863 per class (8,630 images) rather than 1,000.

Arrays: ``images`` uint8 (N, 28, 28), ``labels`` uint8 (N,), written with np.savez_compressed.
The script is deterministic: running it again gives the same arrays.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240607
PER_CLASS = 1000
MAX_BYTES = 5 * 1000 * 1000

# (source file, output file, expected sha256 of the source, use only is_test == 0)
JOBS = [
    ("mnist-10k.npz", "mnist-8630.npz",
     "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef", False),
    ("fashion-mnist.npz", "fashion-mnist-10k.npz",
     "3f1f19211ba0f03e8d9c3ffc89d4c996365df5bed270abd19a4d059bd88a64b4", True),
]


def balanced_draw(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices: ``per_class`` random examples of every class, then shuffled together."""
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
             for c in np.unique(labels)]
    return rng.permutation(np.concatenate(picks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=ROOT / "playground" / "data" / "bundled")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (src_name, out_name, sha, train_only) in enumerate(JOBS):
        src = args.src / src_name
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if digest != sha:
            raise SystemExit(f"{src}: sha256 {digest} is not the expected {sha}")
        with np.load(src, allow_pickle=False) as d:
            images, labels = d["images"], d["labels"]
            if train_only:
                keep = d["is_test"] == 0
                images, labels = images[keep], labels[keep]
        counts = np.bincount(labels)
        per_class = min(PER_CLASS, int(counts.min()))
        # One generator per output, seeded from SEED and its position, so the files are independent.
        rng = np.random.default_rng([SEED, i])
        idx = balanced_draw(labels, per_class, rng)
        out = args.out / out_name
        np.savez_compressed(out, images=images[idx].astype(np.uint8), labels=labels[idx].astype(np.uint8))
        size = out.stat().st_size
        print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {len(idx):,} images "
              f"({per_class:,} per class of {len(counts)}), {size:,} bytes ({size / 1e6:.2f} MB)")
        if size > MAX_BYTES:
            raise SystemExit(f"{out} is {size:,} bytes, over the {MAX_BYTES:,}-byte budget")


if __name__ == "__main__":
    main()
