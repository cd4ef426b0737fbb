"""Images and labels from a NumPy ``.npz`` archive (the bundled subsets, shared/datasets, a user's file).

Expected arrays: ``images`` uint8 (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3;
optional ``labels`` integer (N,); optional ``is_test`` (N,), where only ``is_test == 0`` (the
training split) is used. Files are opened with ``allow_pickle=False``: an .npz can hold pickled
objects, and nothing a user supplies is ever unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .common import DataError, plural


def read_npz(path: Path, log=lambda msg: None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Read ``path``: (images uint8 [N, C, H, W], labels int64 [N] or None, a note on what was used)."""
    if not Path(path).is_file():  # a FIFO would block np.load forever, a device never end
        raise DataError(f"{path} is not a regular file; expected a NumPy .npz archive")
    try:
        d = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"Could not read {path} as a NumPy .npz archive ({e})") from None
    if not isinstance(d, np.lib.npyio.NpzFile):
        raise DataError(f"{path} is a single NumPy array (.npy); expected an .npz archive with an "
                        f"'images' array")
    try:
        with d:
            return _read_arrays(path, d, log)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        if isinstance(e, DataError):
            raise
        # e.g. an object array (needs pickle) or a truncated member
        raise DataError(f"Could not read {path} as a NumPy .npz archive ({e})") from None


def _read_arrays(path: Path, d, log) -> tuple[np.ndarray, np.ndarray | None, str]:
    names = list(d.files)
    if "images" not in names:
        raise DataError(f"{path} has no 'images' array (it has: {', '.join(names) or 'no arrays'}); "
                        f"expected 'images' uint8 (N, 28, 28) and optionally 'labels' (N,)")
    images = d["images"]
    if images.dtype != np.uint8:
        raise DataError(f"{path}: 'images' has dtype {images.dtype}; expected uint8 (0-255, 0 = black)")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[1] in (1, 3):
        pass
    elif images.ndim == 4 and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{path}: 'images' has shape {images.shape}; expected (N, H, W), (N, H, W, C) "
                        f"or (N, C, H, W) with C = 1 or 3")
    n = images.shape[0]
    if n == 0:
        raise DataError(f"{path}: 'images' holds no images")

    labels = None
    if "labels" in names:
        labels = d["labels"]
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path}: 'labels' has shape {labels.shape} and dtype {labels.dtype}; "
                            f"expected integers of shape ({n},), one per image")
        if labels.min() < 0:
            raise DataError(f"{path}: 'labels' has negative values; class labels start at 0")
        labels = labels.astype(np.int64)

    note = f"{plural(n, 'image')} from {path.name}"
    if "is_test" in names:
        is_test = d["is_test"]
        if is_test.shape != (n,):
            raise DataError(f"{path}: 'is_test' has shape {is_test.shape}; expected ({n},)")
        train = is_test == 0
        images = images[train]
        labels = labels[train] if labels is not None else None
        note = f"the {plural(len(images), 'training image')} of {path.name} (its test images left out)"
        log(f"{path.name}: using {note} ({int((~train).sum()):,} of them)")
        if len(images) == 0:
            raise DataError(f"{path}: every image is marked is_test == 1; no training images left")
    return np.ascontiguousarray(images), labels, note
