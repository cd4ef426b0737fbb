"""Types and helpers shared by every data source: the error, the dataset description, subsets, resizing.

Images travel through the data layer as one uint8 tensor ``[N, C, H, W]`` (0 = black) so a small
dataset can sit on the training device whole; points are float32 ``[N, 2]``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import IMAGE_CHANNELS as CHANNEL_CHOICES, IMAGE_SIZES  # noqa: F401  (re-exported)


class DataError(ValueError):
    """A user-facing data problem; the message is plain language and names the file/folder/field."""


class UploadRefused(DataError):
    """A zip of images refused whole (unsafe member, over a limit, not a zip, no images): bad input,
    so the CLI and the worker exit with status 2."""


@dataclass
class DataInfo:
    """What a loaded dataset is. JSON-serialisable with ``dataclasses.asdict``; stored in run folders."""

    name: str                  # dataset key from DATASETS
    kind: str                  # "images" or "points"
    source: str                # "bundled", "torchvision", "npz", "folder", "zip", "toy"
    location: str              # file/folder/zip path ("" for bundled/toy); for display only
    n: int                     # number of examples after max_images
    channels: int              # 1 or 3 (0 for points)
    image_size: int            # 28, 32, 64 or 128 (0 for points)
    num_classes: int           # 0 when unlabeled
    class_names: list[str] = field(default_factory=list)   # len == num_classes
    skipped: dict[str, int] = field(default_factory=dict)  # e.g. {"corrupt": 2, "not_image": 1}
    notes: str = ""            # plain sentence: subset, licence, where it came from
    # the same as stored messages ({"msgid", "values"}, shown one after the other), so the
    # dashboard shows the notes in its reader's language (playground.i18n.render)
    notes_id: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        """Rebuild from ``asdict`` output (e.g. a run's config.json); unknown keys are ignored so
        newer files still load."""
        if not isinstance(d, dict):
            raise DataError(f"data info must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in kw and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise DataError(f"data info is missing the field(s): {', '.join(missing)}")
        kw["class_names"] = [str(c) for c in kw.get("class_names", [])]
        kw["skipped"] = {str(k): int(v) for k, v in dict(kw.get("skipped", {})).items()}
        for k in ("n", "channels", "image_size", "num_classes"):
            kw[k] = int(kw[k])
        return cls(**kw)


@dataclass
class LoadedData:
    """A dataset in memory. ``x``: images uint8 [N, C, H, W] (0 = black) or points float32 [N, 2];
    ``y``: int64 [N] class labels, or None when unlabeled."""

    info: DataInfo
    x: torch.Tensor
    y: torch.Tensor | None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def select_indices(labels: np.ndarray | None, n_total: int, max_images: int | None,
                   seed: int) -> np.ndarray:
    """Indices [n] into a dataset of ``n_total`` examples, in a random order fixed by ``seed``.

    With ``max_images`` below ``n_total`` the subset is class-balanced: every class gets the same
    count as far as its size allows (a small class gives its share to the others), chosen at random
    within the class. Unlabeled data get a plain random subset. Returning a shuffled order even for
    the whole dataset matters because source files are often sorted by label, and anything that
    shows the "first 64 images" would otherwise show one class.
    """
    rng = np.random.default_rng(seed)
    if max_images is None or max_images >= n_total:
        return rng.permutation(n_total)
    if labels is None:
        return rng.permutation(n_total)[:max_images]
    classes, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(classes))
    per_class = [rng.permutation(ix) for ix in np.split(order, np.cumsum(counts)[:-1])]
    take = _water_fill(counts, max_images, rng)
    picked = np.concatenate([ix[:t] for ix, t in zip(per_class, take)])
    return rng.permutation(picked)


def _water_fill(counts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class counts summing to ``n`` (<= counts.sum()), as equal as class sizes allow; the
    remainder that does not divide evenly goes to classes picked at random (not always class 0)."""
    take = np.zeros_like(counts)
    left = n
    while left > 0:
        open_ = np.flatnonzero(take < counts)
        share = left // len(open_)
        if share == 0:
            lucky = rng.choice(open_, size=left, replace=False)
            take[lucky] += 1
            break
        add = np.minimum(share, counts[open_] - take[open_])
        take[open_] += add
        left -= int(add.sum())
    return take


def adapt_images(x: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """Bring uint8 images [N, C, H, W] to [N, channels, image_size, image_size].

    Non-square images are centre-cropped to a square first. Resizing is bilinear with antialiasing
    (so shrinking does not alias), done once at load in float and rounded back to uint8; chunks
    keep the float copy small. Grey -> colour repeats the channel; colour -> grey uses the ITU-R
    601 luma weights that PIL's "L" conversion uses.
    """
    n, c, h, w = x.shape
    if h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, :, top:top + s, left:left + s]
    if c == 3 and channels == 1:
        x = _to_grey(x)
    if x.shape[-1] != image_size:
        out = torch.empty((n, x.shape[1], image_size, image_size), dtype=torch.uint8)
        for i in range(0, n, 2048):
            chunk = x[i:i + 2048].float()
            chunk = F.interpolate(chunk, size=(image_size, image_size), mode="bilinear",
                                  antialias=True, align_corners=False)
            out[i:i + 2048] = chunk.round_().clamp_(0, 255).to(torch.uint8)
        x = out
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def _to_grey(x: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, 1, H, W] with L = (299 R + 587 G + 114 B) / 1000, rounded."""
    out = torch.empty((x.shape[0], 1, *x.shape[2:]), dtype=torch.uint8)
    for i in range(0, x.shape[0], 4096):
        c = x[i:i + 4096].to(torch.int32)
        out[i:i + 4096, 0] = ((c[:, 0] * 299 + c[:, 1] * 587 + c[:, 2] * 114 + 500) // 1000).to(torch.uint8)
    return out


def plural(n: int, word: str) -> str:
    """'1 image', '2 images', '10,000 images'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
