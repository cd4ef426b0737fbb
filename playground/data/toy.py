"""2D toy distributions, the classic test beds for mode collapse.

``ring`` (8 Gaussians on a circle, Metz et al. 2016) and ``grid`` (25 Gaussians, as in VEEGAN and
PacGAN) have known mode centres, so a metric can count how many modes a generator covers
(:func:`toy_modes`). ``spiral`` (a 2D Swiss roll) and ``moons`` test thin, curved supports.

All points are float32 [N, 2], generated on the CPU from a ``torch.Generator`` seeded with ``seed``,
so the same seed gives the same points on every machine.
"""

from __future__ import annotations

import math

import numpy as np
import torch

DEFAULT_TOY_POINTS = 20_000

RING_MODES = 8
RING_RADIUS = 2.0
# 0.05 keeps the 8 modes (1.53 apart on the circle) clearly separate yet visible as blobs in a plot;
# the 0.02 of the unrolled-GAN paper shows as single dots.
RING_STD = 0.05
GRID_COORDS = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID_STD = 0.05
SPIRAL_NOISE = 0.25 / 7.5  # sklearn's make_swiss_roll(noise=0.25) scaled by 1/7.5, as in WGAN-GP's toys
MOONS_NOISE = 0.1          # after scaling the unit moons by 2

# Standard deviation of each Gaussian mode, for metrics that count a sample as "on a mode"
# when it lies within a few std of a centre.
TOY_STD = {"ring": RING_STD, "grid": GRID_STD}


def toy_modes(name: str) -> np.ndarray | None:
    """Mode centres float32 [M, 2]: ring -> 8 on a circle of radius 2 (angle 0 first, counter-
    clockwise), grid -> 25 at (-4..4 step 2)^2, row-major in x then y. Row i is the centre of the
    points labelled i. None for spiral and moons, which have no point modes."""
    if name == "ring":
        angles = 2 * math.pi * np.arange(RING_MODES) / RING_MODES
        return (RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)
    if name == "grid":
        return np.array([(gx, gy) for gx in GRID_COORDS for gy in GRID_COORDS], dtype=np.float32)
    return None


def _balanced_labels(n: int, k: int, g: torch.Generator) -> torch.Tensor:
    """int64 [n] with each of k labels n//k or n//k+1 times, in random order."""
    return torch.randperm(n, generator=g) % k


def make_toy(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None, list[str], str]:
    """Sample ``n`` points of toy ``name``: (x float32 [n, 2], y int64 [n] or None, class names, notes)."""
    g = torch.Generator().manual_seed(seed)
    if name in ("ring", "grid"):
        modes = torch.from_numpy(toy_modes(name))
        std = TOY_STD[name]
        y = _balanced_labels(n, len(modes), g)
        x = modes[y] + std * torch.randn(n, 2, generator=g)
        if name == "ring":
            names = [f"{round(360 * i / RING_MODES)}°" for i in range(RING_MODES)]
            notes = (f"{n:,} points from {RING_MODES} Gaussians on a circle of radius {RING_RADIUS:g} "
                     f"(std {std:g}), seed {seed}.")
        else:
            names = [f"({gx:g}, {gy:g})" for gx in GRID_COORDS for gy in GRID_COORDS]
            notes = f"{n:,} points from a 5x5 grid of Gaussians at -4..4 step 2 (std {std:g}), seed {seed}."
        return x.float(), y, names, notes
    if name == "spiral":
        # t in [1.5 pi, 4.5 pi]: one and a half turns; radius grows with t.
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g, dtype=torch.float64))
        x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 7.5
        x = x + SPIRAL_NOISE * torch.randn(n, 2, generator=g, dtype=torch.float64)
        notes = f"{n:,} points on a 2D Swiss-roll spiral (noise {SPIRAL_NOISE:.3f}), seed {seed}; unlabeled."
        return x.float(), None, [], notes
    if name == "moons":
        y = _balanced_labels(n, 2, g)
        theta = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
        upper = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
        lower = torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], dim=1)
        x = torch.where(y[:, None] == 0, upper, lower)
        # Centre the pair of unit moons on the origin and scale to about [-3, 3] x [-1.5, 1.5].
        x = (x - torch.tensor([0.5, 0.25], dtype=torch.float64)) * 2
        x = x + MOONS_NOISE * torch.randn(n, 2, generator=g, dtype=torch.float64)
        notes = f"{n:,} points on two interleaving half circles (noise {MOONS_NOISE:g}), seed {seed}."
        return x.float(), y, ["upper moon", "lower moon"], notes
    raise ValueError(f"not a toy dataset: {name!r}")
