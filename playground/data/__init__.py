"""The dataset layer: one call, :func:`load_dataset`, turns a dataset name and a few options into
tensors ready to train on.

    data = load_dataset("fashion-mnist", max_images=5000, device="cuda")
    data.x      # uint8 [N, 1, 28, 28] images (0 = black) on the device; float32 [N, 2] for toys
    data.y      # int64 [N] labels, or None when unlabeled
    data.info   # DataInfo: shapes, class names, where the data came from, what was skipped

Sources: a subset of MNIST / Fashion-MNIST bundled with the package (works offline), torchvision's
full copies (downloaded into the cache), .npz files, a folder or .zip of the learner's own images,
and 2D toy distributions. Every problem a learner can cause raises :class:`DataError` with a
message naming the field or path and what is allowed.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import torch

from ..i18n import N_, msg
from . import toy
from .archive import check_zip
from .common import (CHANNEL_CHOICES, IMAGE_SIZES, DataError, DataInfo, LoadedData, adapt_images,
                     plural, select_indices)
from .folder import load_image_folder
from .npz import read_npz
from .toy import toy_modes

__all__ = ["load_dataset", "LoadedData", "DataInfo", "DataError", "DATASETS", "TOY_DATASETS",
           "IMAGE_DATASETS", "toy_modes", "default_cache_dir", "check_zip", "BUNDLED_DIR"]

DATASETS = ("mnist", "fashion-mnist", "cifar10", "folder", "ring", "grid", "spiral", "moons")
TOY_DATASETS = ("ring", "grid", "spiral", "moons")
IMAGE_DATASETS = ("mnist", "fashion-mnist", "cifar10", "folder")
SOURCES = ("auto", "bundled", "download")

BUNDLED_DIR = Path(__file__).with_name("bundled")
# Made by scripts/make_bundled_data.py; licences in bundled/LICENSES.md.
BUNDLED_FILES = {"mnist": "mnist-8630.npz", "fashion-mnist": "fashion-mnist-10k.npz"}
# File names looked for when data_dir is a folder (the bundled names too, so bundled/ works).
NPZ_NAMES = {"mnist": ("mnist.npz", "mnist-10k.npz", "mnist-8630.npz"),
             "fashion-mnist": ("fashion-mnist.npz", "fashion-mnist-10k.npz"),
             "cifar10": ("cifar10.npz", "cifar-10.npz")}
LICENCES = {"mnist": "CC BY-SA 3.0", "fashion-mnist": "MIT licence"}

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}
# (image_size, channels) when the caller passes None.
DEFAULT_SHAPE = {"mnist": (28, 1), "fashion-mnist": (28, 1), "cifar10": (32, 3), "folder": (64, 3)}


def default_cache_dir() -> Path:
    """Where downloads and decoded-folder caches go: $GAN_PLAYGROUND_CACHE or ~/.cache/gan-playground."""
    env = os.environ.get("GAN_PLAYGROUND_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gan-playground"


def load_dataset(name: str, *, data_dir: str | None = None, image_size: int | None = None,
                 channels: int | None = None, max_images: int | None = None, seed: int = 0,
                 source: str = "auto", cache_dir: str | None = None,
                 device: str | torch.device = "cpu", log=lambda msg: None) -> LoadedData:
    """Load dataset ``name`` (one of DATASETS) as tensors on ``device``.

    Returns LoadedData with x uint8 [N, C, S, S] (images, 0 = black) or float32 [N, 2] (toys),
    y int64 [N] or None. The examples come in a random order fixed by ``seed``; with
    ``max_images`` they are a class-balanced random subset (plain random when unlabeled), and for
    toys ``max_images`` is the number of points (default 20,000).

    ``image_size`` (28/32/64/128) and ``channels`` (1/3) default to the dataset's own (MNIST-likes 28/1,
    CIFAR-10 32/3, folders 64/3); images are resized (bilinear, antialiased) once here. Toys ignore
    both. ``source`` picks where MNIST-likes come from: "auto" (data_dir, else torchvision's copy in
    ``cache_dir/torchvision`` if present, else the bundled subset; never the network), "bundled",
    or "download" (torchvision, into data_dir or ``cache_dir/torchvision``). CIFAR-10 in "auto"
    downloads when no copy is found. Folders and toys ignore ``source``.

    ``log`` receives plain progress lines (what was used, what was skipped).
    """
    key = _check_args(name, image_size, channels, max_images, seed, source)
    dev = _check_device(device)
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()

    if key in TOY_DATASETS:
        n = max_images or toy.DEFAULT_TOY_POINTS
        x, y, names, notes = toy.make_toy(key, n, seed)
        info = DataInfo(name=key, kind="points", source="toy", location="", n=n, channels=0,
                        image_size=0, num_classes=len(names), class_names=names, skipped={},
                        notes=notes, notes_id=[_toy_note(key, n, seed).to_json()])
        log(f"Generated {notes}")
        return _to_device(LoadedData(info, x, y), dev, device)

    path = None
    if data_dir is not None and str(data_dir).strip():
        path = Path(str(data_dir).strip()).expanduser()
        if not path.exists() and not (source == "download" and key != "folder"):
            raise DataError(f"data_dir {path} does not exist")
    size = image_size or DEFAULT_SHAPE[key][0]
    chans = channels or DEFAULT_SHAPE[key][1]

    if key == "folder":
        if path is None:
            raise DataError("data_dir is needed for the 'folder' dataset: a folder of images "
                            "(optionally one subfolder per class) or a .zip of them")
        fd = load_image_folder(path, image_size=size, channels=chans, cache_dir=cache, log=log)
        x, y = torch.from_numpy(fd.x), (torch.from_numpy(fd.y) if fd.y is not None else None)
        kind = "zip archive" if fd.source == "zip" else "folder"
        raw = dict(x=x, y=y, class_names=fd.class_names, source=fd.source, location=str(path),
                   skipped=fd.skipped, notes=f"{plural(len(x), 'image')} from the {kind} {path.name}.",
                   notes_id=[msg(N_("{n} images from the zip archive {path}.") if fd.source == "zip"
                                 else N_("{n} images from the folder {path}."), n=len(x), path=path.name)])
    else:
        raw = _load_standard(key, path, source, cache, log)

    x, y = raw["x"], raw["y"]
    n_all = len(x)
    idx = select_indices(y.numpy() if y is not None else None, n_all, max_images, seed)
    idx_t = torch.from_numpy(idx)
    x = x[idx_t]
    y = y[idx_t] if y is not None else None
    notes = raw["notes"]
    parts = list(raw.get("notes_id") or [])
    if len(idx) < n_all:
        how = "class-balanced" if y is not None else "plain"
        notes += f" Using a {how} random subset of {len(idx):,} (seed {seed})."
        parts.append(msg(N_("Using a class-balanced random subset of {n} (seed {seed}).") if y is not None
                         else N_("Using a plain random subset of {n} (seed {seed})."), n=len(idx), seed=str(seed)))
    src_c, src_h, src_w = x.shape[1:]
    x = adapt_images(x, size, chans)
    if (src_h, src_w) != (size, size):
        src = f"{src_w}x{src_h}" if src_h != src_w else f"{src_w}"
        notes += f" Resized from {src} to {size} px."
        parts.append(msg("Resized from {src} to {size} px.", src=src, size=size))
    if src_c != chans:
        notes += " Grey copied to 3 channels." if chans == 3 else " Converted to greyscale."
        parts.append(msg("Grey copied to 3 channels.") if chans == 3 else msg("Converted to greyscale."))

    names = raw["class_names"] if y is not None else []
    info = DataInfo(name=key, kind="images", source=raw["source"], location=raw["location"],
                    n=len(x), channels=chans, image_size=size, num_classes=len(names),
                    class_names=list(names), skipped=dict(raw.get("skipped", {})), notes=notes,
                    notes_id=[p.to_json() for p in parts])
    log(f"Loaded {key}: {info.n:,} x {chans} x {size} x {size}, "
        f"{info.num_classes or 'no'} classes, from {info.source}")
    return _to_device(LoadedData(info, x, y), dev, device)


def _load_standard(key, path, source, cache, log) -> dict:
    """MNIST, Fashion-MNIST or CIFAR-10 from data_dir, torchvision or the bundled subset."""
    from . import torchvision_sets as tv

    title = tv.TITLES[key]
    if source == "bundled":
        if key not in BUNDLED_FILES:
            raise DataError(f"source 'bundled': there is no bundled copy of {title}; "
                            f"use source 'auto' or 'download' (or data_dir)")
        return _load_bundled(key, log)
    if source == "download":
        if path is not None and path.is_file():
            raise DataError(f"data_dir {path} is a file; with source 'download' it must be a folder "
                            f"to download {title} into (or leave it empty to use the cache)")
        root = path if path is not None else cache / "torchvision"
        try:
            x, y, names = tv.load_torchvision(key, root, download=True, log=log)
        except Exception as e:   # urllib, torchvision, tarfile and gzip errors all mean "failed"
            fallback = (" The bundled subset works offline: use source 'bundled' (or 'auto')."
                        if key in BUNDLED_FILES else "")
            raise DataError(f"Downloading {title} into {root} failed ({tv.short_error(e)}).{fallback}") from e
        return _tv_result(key, x, y, names, root)
    # source == "auto"
    if path is not None:
        npz = _find_npz(key, path)
        if npz is not None:
            return _npz_result(key, npz, "npz", str(npz), log)
        root = tv.normalise_root(key, path)
        try:
            x, y, names = tv.load_torchvision(key, root, download=False, log=log)
        except Exception as e:
            raise DataError(tv.not_found_message(key, path, e)) from e
        return _tv_result(key, x, y, names, root)
    root = cache / "torchvision"
    if tv.looks_present(key, root):
        try:
            x, y, names = tv.load_torchvision(key, root, download=False, log=log)
            return _tv_result(key, x, y, names, root)
        except Exception as e:
            log(f"The copy of {title} in {root} could not be read ({tv.short_error(e)})")
    if key in BUNDLED_FILES:
        return _load_bundled(key, log)
    try:   # CIFAR-10 has no bundled subset: fetch it once
        x, y, names = tv.load_torchvision(key, root, download=True, log=log)
    except Exception as e:
        raise DataError(f"CIFAR-10 is not on this machine and could not be downloaded "
                        f"({tv.short_error(e)}). Connect to the internet once (it is kept in {root}), "
                        f"or set data_dir to a folder holding torchvision's cifar-10-batches-py.") from e
    return _tv_result(key, x, y, names, root)


def _find_npz(key: str, path: Path) -> Path | None:
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"data_dir {path} is a file but not an .npz archive; for {key} give an "
                            f".npz file, a folder holding one, or a torchvision data folder")
        return path
    for fn in NPZ_NAMES.get(key, ()):
        if (path / fn).is_file():
            return path / fn
    return None


def _load_bundled(key: str, log) -> dict:
    path = BUNDLED_DIR / BUNDLED_FILES[key]
    if not path.is_file():
        raise DataError(f"The bundled {key} file {path} is missing from this installation; "
                        f"reinstall the package or use source 'download'")
    raw = _npz_result(key, path, "bundled", "", log)
    per_class = np.bincount(raw["y"].numpy()).min()
    title = "MNIST" if key == "mnist" else "Fashion-MNIST"
    raw["notes"] = (f"{len(raw['x']):,}-image class-balanced subset ({per_class:,} per class) of "
                    f"{title} bundled with the app ({LICENCES[key]}).")
    raw["notes_id"] = [msg("{n}-image class-balanced subset ({per_class} per class) of {title} bundled "
                           "with the app ({licence}).", n=len(raw["x"]), per_class=int(per_class), title=title,
                           licence=LICENCES[key])]
    log(f"Using the bundled {title} subset ({len(raw['x']):,} images)")
    return raw


def _npz_result(key: str, path: Path, source: str, location: str, log) -> dict:
    images, labels, note = read_npz(path, log)
    y = None
    if labels is not None:
        if labels.max() >= len(CLASS_NAMES[key]):
            raise DataError(f"{path}: 'labels' go up to {labels.max()}, but {key} has "
                            f"{len(CLASS_NAMES[key])} classes (0-{len(CLASS_NAMES[key]) - 1})")
        y = torch.from_numpy(labels)
    if note.startswith("the "):    # read_npz kept the training images only
        note_id = msg("The {n} training images of {file} (its test images left out).", n=len(images),
                      file=path.name)
    else:
        note_id = msg("{n} images from {file}.", n=len(images), file=path.name)
    return dict(x=torch.from_numpy(images), y=y, class_names=CLASS_NAMES[key], source=source,
                location=location, notes=f"{note[0].upper()}{note[1:]}.", notes_id=[note_id])


def _tv_result(key: str, x, y, names, root: Path) -> dict:
    from .torchvision_sets import TITLES

    licence = f" ({LICENCES[key]})" if key in LICENCES else ""
    return dict(x=x, y=y, class_names=names or CLASS_NAMES[key], source="torchvision",
                location=str(root), notes=f"{TITLES[key]} training set ({len(x):,} images) "
                                          f"via torchvision from {root}{licence}.",
                notes_id=[msg("{title} training set ({n} images) via torchvision{licence}.",
                              title=TITLES[key], n=len(x), licence=licence)])


def _toy_note(key: str, n: int, seed: int):
    """The toy's notes (as toy.make_toy writes them) as a stored message."""
    std, seed_text = float(toy.TOY_STD.get(key, 0.0)), str(seed)
    if key == "ring":
        return msg("{n} points from {modes} Gaussians on a circle of radius {radius} (std {std}), seed {seed}.",
                   n=n, modes=toy.RING_MODES, radius=float(toy.RING_RADIUS), std=std, seed=seed_text)
    if key == "grid":
        return msg("{n} points from a 5x5 grid of Gaussians at -4..4 step 2 (std {std}), seed {seed}.",
                   n=n, std=std, seed=seed_text)
    if key == "spiral":
        return msg("{n} points on a 2D Swiss-roll spiral (noise {noise}), seed {seed}; unlabeled.",
                   n=n, noise=float(toy.SPIRAL_NOISE), seed=seed_text)
    return msg("{n} points on two interleaving half circles (noise {noise}), seed {seed}.",
               n=n, noise=float(toy.MOONS_NOISE), seed=seed_text)


def _check_args(name, image_size, channels, max_images, seed, source) -> str:
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    if key not in DATASETS:
        raise DataError(f"dataset {name!r} is unknown; choose one of: {', '.join(DATASETS)}")
    if image_size is not None and (not _is_int(image_size) or image_size not in IMAGE_SIZES):
        raise DataError(f"image_size must be {', '.join(map(str, IMAGE_SIZES))} pixels (or None for the dataset's own); "
                        f"got {image_size!r}")
    if channels is not None and (not _is_int(channels) or channels not in CHANNEL_CHOICES):
        raise DataError(f"channels must be 1 (grey) or 3 (colour), or None for the dataset's own; "
                        f"got {channels!r}")
    if max_images is not None and (not _is_int(max_images) or max_images < 1):
        raise DataError(f"max_images must be a whole number >= 1 (or None for all); got {max_images!r}")
    if not _is_int(seed) or seed < 0:
        raise DataError(f"seed must be a whole number >= 0; got {seed!r}")
    if source not in SOURCES:
        raise DataError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    return key


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_device(device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DataError(f"device {device!r} is not a torch device; use e.g. 'cpu', 'cuda', "
                        f"'cuda:1' or 'mps'") from None


def _to_device(data: LoadedData, dev: torch.device, asked) -> LoadedData:
    if data.x.device == dev:
        return data
    try:
        x = data.x.to(dev)
        y = data.y.to(dev) if data.y is not None else None
    except (RuntimeError, AssertionError) as e:
        # out of memory: a shared GPU whose memory other jobs hold (MPS says so in a RuntimeError)
        if isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower():
            need = data.x.nbytes + (data.y.nbytes if data.y is not None else 0)
            raise DataError(f"device {asked!r} is out of memory: the data need {_mib(need)} "
                            f"({data.x.shape[0]:,} examples) and {_free_text(dev)}; try again when "
                            f"other jobs on it have ended, or use another GPU (cuda:N), fewer "
                            f"images (max_images) or the CPU") from None
        # e.g. no CUDA driver, torch built without CUDA
        raise DataError(f"device {asked!r} is not available on this machine ({e})") from None
    data.x, data.y = x, y
    return data


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _free_text(dev: torch.device) -> str:
    """What the GPU has free, or a plain 'it has less free' when that cannot be read."""
    if dev.type == "cuda":
        try:
            free, total = torch.cuda.mem_get_info(dev)
            return f"{_mib(free)} of its {_mib(total)} are free"
        except (RuntimeError, AssertionError):
            pass
    return "it has less than that free"
