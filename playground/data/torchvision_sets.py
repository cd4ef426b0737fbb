"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision (the full training splits).

Each is read into one uint8 tensor from the dataset's ``.data``/``.targets`` arrays, never item by
item through PIL. Reading CIFAR-10 unpickles its batch files; torchvision checks every file's MD5
against the official one first, so only the genuine files are ever unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

TV_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
CIFAR10_FOLDER = "cifar-10-batches-py"


def normalise_root(name: str, path: Path) -> Path:
    """Accept the torchvision root or a folder inside it (``.../MNIST``, ``.../MNIST/raw``,
    ``.../cifar-10-batches-py``) and return the root torchvision expects."""
    cls = TV_CLASS[name]
    if name == "cifar10":
        return path.parent if path.name == CIFAR10_FOLDER else path
    if path.name == "raw" and path.parent.name == cls:
        return path.parent.parent
    if path.name == cls:
        return path.parent
    return path


def looks_present(name: str, root: Path) -> bool:
    """Cheap check (no reading, no hashing) that ``root`` holds torchvision's files for ``name``."""
    if name == "cifar10":
        return (root / CIFAR10_FOLDER / "data_batch_1").is_file()
    raw = root / TV_CLASS[name] / "raw"
    return (raw / "train-images-idx3-ubyte").is_file() or (root / TV_CLASS[name] / "processed").is_dir()


def load_torchvision(name: str, root: Path, *, download: bool,
                     log=lambda msg: None) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    """The training split of ``name`` under ``root``: (x uint8 [N, C, H, W], y int64 [N], class names).

    Raises RuntimeError/OSError/URLError from torchvision when the files are missing (with
    ``download=False``) or cannot be fetched; the caller turns them into a DataError with advice.
    """
    import torchvision.datasets as tvd   # imported here: torchvision is slow to import

    cls = getattr(tvd, TV_CLASS[name])
    if download:
        log(f"Downloading {TITLES[name]} into {root} (skipped if it is already there) ...")
    ds = cls(root=str(root), train=True, download=download)
    if name == "cifar10":
        x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2)   # [N,32,32,3] -> NCHW
        y = torch.as_tensor(ds.targets, dtype=torch.int64)
        names = [str(c) for c in ds.classes]
    else:
        x = ds.data.to(torch.uint8).unsqueeze(1)                                  # [N,28,28] -> [N,1,28,28]
        y = ds.targets.to(torch.int64)
        names = None   # the caller has nicer names than torchvision's "0 - zero"
    return x.contiguous(), y, names


def short_error(e: BaseException, limit: int = 300) -> str:
    """One line from a (possibly multi-line) torchvision/urllib error."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[:limit] + " ..."


def not_found_message(name: str, root: Path, e: BaseException) -> str:
    title = TITLES[name]
    if name == "cifar10":
        layout = f"{root}/{CIFAR10_FOLDER}/data_batch_1 ... (torchvision's layout)"
    else:
        npz = "fashion-mnist.npz" if name == "fashion-mnist" else "mnist.npz or mnist-10k.npz"
        layout = (f"an .npz file ({npz}) or torchvision's layout "
                  f"{root}/{TV_CLASS[name]}/raw/train-images-idx3-ubyte")
    return f"No {title} data found in data_dir {root}: expected {layout} ({short_error(e)})"
