"""A learner's own images: a folder (optionally with one subfolder per class) or a .zip of one.

Every image is decoded once: converted to grey or RGB, centre-cropped to a square and resized
to ``image_size`` (the same as resizing the shorter side to ``image_size`` and cropping), and the uint8 result [N, C, S, S] is cached in
``cache_dir/folders/<hash>.npz``. The hash covers the file list with sizes and mtimes (for a zip:
its member names, sizes and CRCs), so editing the folder invalidates the cache by itself.

Layout: a single folder that wraps everything (``photos/cat/1.png``) is looked through; then, if
images sit in subfolders, the first subfolder level names the class (sorted names -> labels
0..K-1, like torchvision's ImageFolder) and images beside the class folders are skipped; if all
images sit at the top, the data are unlabeled.

Skipped, and counted in ``skipped``: files that are not images by extension (``not_image``),
images that fail to decode (``corrupt``), images over MAX_IMAGE_PIXELS pixels or
MAX_IMAGE_FILE_BYTES bytes (``too_large``), images outside the class folders
(``outside_class_folders``), and entries that are not regular files — FIFOs, devices, sockets, or
links to them (``special_file``): those are never opened, since opening a FIFO blocks until someone
writes to it and a device can be read without end. ``__MACOSX/``, dotfiles and OS junk files are
skipped silently.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps

from . import archive
from .common import DataError, plural

# An image over this many pixels is skipped before its pixels are decoded (checked on the header).
# 40 MP is a large photo; far above it are decompression bombs. PIL's own process-wide guard
# (Image.MAX_IMAGE_PIXELS) is left alone: a library should not change it for the whole server.
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_FILE_BYTES = 64 << 20   # a single image file over 64 MiB is not a training image
CACHE_VERSION = 1
# Transparent pixels are composited onto white, the way an image looks on a web page.
BACKGROUND = (255, 255, 255)


class ImageTooLarge(Exception):
    """The image's header declares more pixels (or the file more bytes) than the limits allow."""


@dataclass
class FolderData:
    """Decoded images: x uint8 [N, C, S, S], y int64 [N] or None."""

    x: np.ndarray
    y: np.ndarray | None
    class_names: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = "folder"        # "folder" or "zip"
    from_cache: bool = False


def decode_image(src: bytes | Path, image_size: int, channels: int) -> np.ndarray:
    """Decode one image file (bytes in memory or a path) to uint8 [channels, S, S].

    Raises ImageTooLarge for images over the limits and any PIL/OSError for files that are not
    readable images. Grey/palette/16-bit inputs become "L" or "RGB"; EXIF rotation is applied so
    phone photos stand upright.
    """
    fp = io.BytesIO(src) if isinstance(src, bytes) else src
    try:
        with Image.open(fp) as img:
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ImageTooLarge(f"{w}x{h} pixels")
            mode = "L" if channels == 1 else "RGB"
            if img.format == "JPEG":
                # Let libjpeg decode at a reduced scale (still >= S on both sides): much faster
                # for big photos, and the final resize antialiases anyway.
                img.draft(mode, (image_size, image_size))
            img.load()
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block should not cost the image
                pass
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND + (255,)), rgba)
            img = img.convert(mode)
            # Centre square first, then resize: resizing with a crop box would let the filter
            # reach past the box and bleed the cut-off borders into the edge pixels.
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
            if side != image_size:
                # reducing_gap: shrink big photos by an integer factor first (fast), then filter.
                img = img.resize((image_size, image_size), Image.Resampling.BICUBIC, reducing_gap=3.0)
            arr = np.asarray(img, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageTooLarge(str(e)) from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def plan_classes(relpaths: list[str]) -> tuple[list[int | None], list[str]]:
    """Labels for sorted relative image paths ("a/b.png"): (label per path, class names).

    Unlabeled layouts give label None for every path and no names; in a class layout an image
    outside the class folders gets label -1 (to be skipped).
    """
    parts = [PurePosixPath(p).parts for p in relpaths]
    # Look through wrapper folders that hold everything ("my_images/cats/1.png").
    depth = 0
    while parts and all(len(p) > depth + 1 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    parts = [p[depth:] for p in parts]
    if not any(len(p) > 1 for p in parts):
        return [None] * len(parts), []
    names = sorted({p[0] for p in parts if len(p) > 1})
    index = {n: i for i, n in enumerate(names)}
    return [index[p[0]] if len(p) > 1 else -1 for p in parts], names


def load_image_folder(path: Path, *, image_size: int, channels: int, cache_dir: Path,
                      log=lambda msg: None) -> FolderData:
    """Load a folder of images or a .zip of them (see the module docstring)."""
    if not path.exists():
        raise DataError(f"data_dir {path} does not exist")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"data_dir {path} is not a folder or a file (a pipe, a device or a socket)")
    if path.is_dir():
        entries, (not_image, special), key_items = _list_folder(path)
        source, zf = "folder", None
    else:
        infos, not_image = archive.scan_zip(path)   # raises DataError for an unsafe or bad zip
        infos.sort(key=lambda i: i.filename)
        zf = zipfile.ZipFile(path)
        entries = [(i.filename.replace("\\", "/"), i.file_size, lambda i=i: archive.read_member(zf, i))
                   for i in infos]
        info = path.stat()
        key_items = [info.st_size, info.st_mtime_ns, [(i.filename, i.file_size, i.CRC) for i in infos]]
        source, special = "zip", []
    try:
        return _load_entries(path, source, entries, not_image, key_items, image_size, channels,
                             cache_dir, log, special)
    finally:
        if zf is not None:
            zf.close()


def read_image_file(path: Path) -> bytes:
    """The bytes of an image file, opened only if it is a regular file (checked on the open file, so
    a FIFO swapped in since the folder was listed is still never read) and read to the size limit."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_IMAGE_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise ImageTooLarge(f"over {MAX_IMAGE_FILE_BYTES:,} bytes")
    return data


def _list_folder(root: Path):
    """Walk ``root`` (not following folder symlinks): image entries, (other file names, special
    files), cache key. Special files (FIFOs, devices, sockets, links to them) are only stat'ed."""
    entries, not_image, key_items = [], [], []
    special: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for fn in sorted(filenames):
            full = Path(dirpath, fn)
            rel = full.relative_to(root).as_posix()
            if archive.is_silent_skip(rel):
                continue
            try:
                info = full.stat()
            except OSError:   # a dangling symlink: count it as unreadable below
                info = None
            if info is not None and not stat.S_ISREG(info.st_mode):
                special.append(rel)   # never opened (see the module docstring)
                continue
            if not archive.is_image_name(rel):
                not_image.append(rel)
                continue
            size = info.st_size if info else -1
            entries.append((rel, size, lambda full=full: read_image_file(full)))
            key_items.append((rel, size, info.st_mtime_ns if info else 0))
    entries.sort(key=lambda e: e[0])
    key_items.sort()
    if special:
        key_items.append(("special_file", sorted(special)))
    return entries, (not_image, special), key_items


def _load_entries(path, source, entries, not_image, key_items, image_size, channels, cache_dir, log,
                  special=()):
    labels, class_names = plan_classes([rel for rel, _, _ in entries])
    skipped: dict[str, int] = {}
    if special:
        skipped["special_file"] = len(special)
        log(f"Skipped {plural(len(special), 'special file')} (pipes, devices "
            f"or sockets; never opened): {_few(list(special))}")
    if not_image:
        skipped["not_image"] = len(not_image)
        log(f"Skipped {plural(len(not_image), 'file')} that are not images: {_few(not_image)}")
    outside = [rel for (rel, _, _), lab in zip(entries, labels) if lab == -1]
    if outside:
        skipped["outside_class_folders"] = len(outside)
        log(f"Skipped {plural(len(outside), 'image')} outside the class folders: {_few(outside)}")
        keep = [i for i, lab in enumerate(labels) if lab != -1]
        entries = [entries[i] for i in keep]
        labels = [labels[i] for i in keep]

    key = _cache_key(path, source, key_items, image_size, channels)
    cache_file = Path(cache_dir) / "folders" / f"{key}.npz"
    cached = _read_cache(cache_file, len(entries), image_size, channels)
    from_cache = cached is not None
    if from_cache:
        x, kept, decode_skipped = cached
        # the log is shown on the Watch page: file names only, never a folder of the server
        log(f"Loaded {plural(len(x), 'decoded image')} of {path.name} from the image cache")
    else:
        x, kept, decode_skipped = _decode_all(entries, image_size, channels, log)
        if len(x):
            _write_cache(cache_file, x, kept, decode_skipped, image_size, channels, log)
    skipped.update({k: v for k, v in decode_skipped.items() if v})

    if len(x) == 0:
        what = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in skipped.items()) or "nothing"
        kind = "zip archive" if source == "zip" else "folder"
        raise DataError(f"No usable images in the {kind} {path} (skipped: {what}). Supported formats: "
                        f"{', '.join(archive.IMAGE_EXTENSIONS)}")
    y = None
    if class_names:
        y = np.asarray([labels[i] for i in kept], dtype=np.int64)
        present = np.unique(y)
        if len(present) < len(class_names):   # a class whose every image was skipped: drop it
            dropped = [class_names[i] for i in range(len(class_names)) if i not in set(present)]
            log(f"No usable images in class folder(s) {', '.join(dropped)}; they are left out")
            class_names = [class_names[i] for i in present]
            y = np.searchsorted(present, y).astype(np.int64)
    return FolderData(x=x, y=y, class_names=class_names, skipped=skipped, source=source,
                      from_cache=from_cache)


def _decode_all(entries, image_size, channels, log):
    """Decode every entry: (x uint8 [N, C, S, S], kept entry indices [N], skip counts and names)."""
    n = len(entries)
    x = np.empty((n, channels, image_size, image_size), dtype=np.uint8)
    kept: list[int] = []
    bad: dict[str, list[str]] = {"corrupt": [], "too_large": []}
    t0 = last = time.monotonic()
    log(f"Decoding {plural(n, 'image')} at {image_size} px ...")
    with warnings.catch_warnings():
        # PIL warns (instead of raising) between its limit and twice its limit; make it an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        for i, (rel, size, load) in enumerate(entries):
            try:
                if size > MAX_IMAGE_FILE_BYTES:
                    raise ImageTooLarge(f"{size:,} bytes")
                if size < 0:
                    raise OSError("cannot be read")
                x[len(kept)] = decode_image(load(), image_size, channels)
                kept.append(i)
            except ImageTooLarge:
                bad["too_large"].append(rel)
            except Exception:   # PIL raises many types for broken files; any of them means "skip"
                bad["corrupt"].append(rel)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                log(f"Decoded {i + 1:,}/{n:,} images")
    if bad["corrupt"]:
        log(f"Skipped {plural(len(bad['corrupt']), 'file')} that could not be read as images: "
            f"{_few(bad['corrupt'])}")
    if bad["too_large"]:
        log(f"Skipped {plural(len(bad['too_large']), 'image')} over {MAX_IMAGE_PIXELS:,} pixels or "
            f"{MAX_IMAGE_FILE_BYTES >> 20} MiB: {_few(bad['too_large'])}")
    log(f"Decoded {plural(len(kept), 'image')} in {time.monotonic() - t0:.1f} s")
    return x[:len(kept)].copy(), np.asarray(kept, dtype=np.int64), {k: len(v) for k, v in bad.items()}


def _cache_key(path, source, key_items, image_size, channels) -> str:
    blob = json.dumps([CACHE_VERSION, source, str(Path(path).resolve()), image_size, channels,
                       MAX_IMAGE_PIXELS, MAX_IMAGE_FILE_BYTES, key_items])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _read_cache(cache_file: Path, n_entries: int, image_size: int, channels: int):
    """(x, kept, decode skip counts) from a cache file, or None when absent or unusable."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as d:
            x, kept = d["images"], d["kept"]
            skipped = json.loads(str(d["skipped_json"]))
        ok = (x.dtype == np.uint8 and x.shape[1:] == (channels, image_size, image_size)
              and kept.shape == (len(x),) and (len(kept) == 0 or kept.max() < n_entries))
        return (x, kept, {str(k): int(v) for k, v in skipped.items()}) if ok else None
    except Exception:   # a damaged or foreign cache file is ignored and rewritten
        return None


def _write_cache(cache_file: Path, x, kept, skipped, image_size, channels, log) -> None:
    # Written uncompressed (it is a cache: load speed matters more than disk), to a temporary
    # name first so a concurrent reader never sees half a file.
    tmp = cache_file.with_name(f".{cache_file.stem}.{os.getpid()}.tmp")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, images=x, kept=kept, skipped_json=np.array(json.dumps(skipped)))
        os.replace(tmp, cache_file)
    except OSError as e:
        log(f"Could not write the image cache ({e.strerror or type(e).__name__}); the images will be "
            "decoded again next time")
        tmp.unlink(missing_ok=True)


def _few(names: list[str], k: int = 5) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k:,} more" if len(names) > k else "")
