"""Tests of playground.data: offline, CPU, tiny data made in tmp_path (the bundled files are loaded).

The torchvision download path is exercised against a local HTTP server on 127.0.0.1 serving tiny
fake MNIST files; nothing here reaches outside the machine.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import json
import pickle
import socket
import stat
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import playground.data as pdata
from playground.data import (DATASETS, IMAGE_DATASETS, TOY_DATASETS, DataError, DataInfo, LoadedData,
                             check_zip, default_cache_dir, load_dataset, toy_modes)
from playground.data import archive, folder
from playground.data.common import select_indices

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]


# ----------------------------------------------------------------------------- helpers
def png_bytes(w=20, h=16, color=(200, 10, 10), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def write_image(path: Path, w=20, h=16, color=(200, 10, 10), fmt="PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), color).save(path, format=fmt)
    return path


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


# ----------------------------------------------------------------------------- bundled data
@pytest.mark.parametrize("name, fn, per_class", [("mnist", "mnist-8630.npz", 863),
                                                  ("fashion-mnist", "fashion-mnist-10k.npz", 1000)])
def test_bundled_files_are_balanced_shuffled_and_small(name, fn, per_class, cache):
    path = pdata.BUNDLED_DIR / fn
    assert path.stat().st_size < 5_000_000
    with np.load(path, allow_pickle=False) as d:
        images, labels = d["images"], d["labels"]
    assert images.dtype == np.uint8 and images.shape == (10 * per_class, 28, 28)
    assert labels.dtype == np.uint8 and labels.shape == (10 * per_class,)
    assert np.bincount(labels).tolist() == [per_class] * 10
    # Not sorted by label: consecutive labels change most of the time (~90% for a shuffle).
    assert np.mean(labels[1:] != labels[:-1]) > 0.8
    assert 20 < images.mean() < 120   # real digits/clothes on black, not blank or inverted

    data = load_dataset(name, source="bundled", cache_dir=cache)
    assert data.info.source == "bundled" and data.info.n == 10 * per_class
    assert data.x.shape == (10 * per_class, 1, 28, 28) and data.x.dtype == torch.uint8
    assert data.y.dtype == torch.int64 and torch.bincount(data.y).tolist() == [per_class] * 10
    assert data.info.num_classes == 10 and len(data.info.class_names) == 10
    assert ("CC BY-SA 3.0" if name == "mnist" else "MIT") in data.info.notes
    assert (pdata.BUNDLED_DIR / "LICENSES.md").is_file()


def test_auto_without_cache_uses_bundled_and_never_downloads(cache, monkeypatch):
    import playground.data.torchvision_sets as tv

    def no_network(*a, download=False, **k):
        raise AssertionError("auto must not download MNIST-likes")
    monkeypatch.setattr(tv, "load_torchvision", no_network)
    data = load_dataset("fashion-mnist", cache_dir=cache)
    assert data.info.source == "bundled" and data.info.class_names == FASHION_NAMES
    assert data.info.location == "" and data.info.channels == 1 and data.info.image_size == 28


# ----------------------------------------------------------------------------- subsets and shapes
def test_max_images_is_balanced_and_deterministic(cache):
    a = load_dataset("fashion-mnist", max_images=105, seed=3, cache_dir=cache)
    b = load_dataset("fashion-mnist", max_images=105, seed=3, cache_dir=cache)
    c = load_dataset("fashion-mnist", max_images=105, seed=4, cache_dir=cache)
    counts = torch.bincount(a.y, minlength=10)
    assert a.info.n == 105 and counts.sum() == 105 and counts.min() == 10 and counts.max() == 11
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert "class-balanced random subset of 105" in a.info.notes


def test_select_indices_gives_small_classes_share_to_others():
    labels = np.array([0] * 2 + [1] * 50 + [2] * 50)
    idx = select_indices(labels, len(labels), 30, seed=0)
    assert len(set(idx.tolist())) == 30
    assert np.bincount(labels[idx]).tolist() == [2, 14, 14]
    assert np.array_equal(idx, select_indices(labels, len(labels), 30, seed=0))
    plain = select_indices(None, 100, 7, seed=1)
    assert len(set(plain.tolist())) == 7 and plain.max() < 100
    # The whole dataset comes back shuffled, not in (label-sorted) file order.
    full = select_indices(np.sort(labels), len(labels), None, seed=0)
    assert sorted(full.tolist()) == list(range(len(labels))) and not np.array_equal(full, np.arange(len(labels)))


def test_resize_and_channels_for_mnist(cache):
    d32 = load_dataset("mnist", image_size=32, max_images=20, cache_dir=cache)
    assert d32.x.shape == (20, 1, 32, 32) and d32.x.dtype == torch.uint8
    d64 = load_dataset("mnist", image_size=64, channels=3, max_images=20, cache_dir=cache)
    assert d64.x.shape == (20, 3, 64, 64) and d64.info.channels == 3 and d64.info.image_size == 64
    assert torch.equal(d64.x[:, 0], d64.x[:, 2])   # grey copied to all channels
    d28 = load_dataset("mnist", max_images=20, cache_dir=cache)
    # Same images (same seed) before and after resizing: brightness is kept roughly.
    assert abs(d28.x.float().mean() - d32.x.float().mean()) < 8
    assert "Resized from 28 to 32 px" in d32.info.notes


# ----------------------------------------------------------------------------- image folders
def test_folder_with_class_subfolders(tmp_path, cache):
    root = tmp_path / "pets"
    for i in range(3):
        write_image(root / "cat" / f"c{i}.png", color=(250, 0, 0))
    for i in range(2):
        write_image(root / "dog" / f"d{i}.jpg", w=50, h=30, color=(0, 0, 250), fmt="JPEG")
    data = load_dataset("folder", data_dir=str(root), cache_dir=cache)
    info = data.info
    assert (info.source, info.kind, info.n, info.image_size, info.channels) == ("folder", "images", 5, 64, 3)
    assert info.class_names == ["cat", "dog"] and info.num_classes == 2
    assert data.x.shape == (5, 3, 64, 64) and data.x.dtype == torch.uint8
    assert torch.bincount(data.y).tolist() == [3, 2]
    red = data.x[data.y == 0].float().mean(dim=(0, 2, 3))
    assert red[0] > 240 and red[2] < 15   # cats stayed red: labels match images after shuffling
    grey = load_dataset("folder", data_dir=root, channels=1, image_size=28, cache_dir=cache)
    assert grey.x.shape == (5, 1, 28, 28)


def test_folder_without_subfolders_is_unlabeled_and_centre_cropped(tmp_path, cache):
    root = tmp_path / "imgs"
    img = np.zeros((20, 60, 3), dtype=np.uint8)
    img[:, 20:40] = 255                                  # white middle third, black sides
    root.mkdir()
    Image.fromarray(img).save(root / "wide.png")
    write_image(root / "b.bmp", fmt="BMP")
    data = load_dataset("folder", data_dir=root, image_size=32, cache_dir=cache)
    assert data.y is None and data.info.num_classes == 0 and data.info.class_names == []
    wide = data.x[data.x.float().mean(dim=(1, 2, 3)) > 200]
    assert len(wide) == 1 and wide.min() > 240           # only the white centre square survived


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path, cache):
    root = tmp_path / "imgs"
    write_image(root / "ok.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    (root / "notes.txt").write_text("hello")
    (root / ".DS_Store").write_bytes(b"junk")            # silent: not counted
    lines = []
    data = load_dataset("folder", data_dir=root, cache_dir=cache, log=lines.append)
    assert data.info.n == 1
    assert data.info.skipped == {"corrupt": 1, "not_image": 1}
    assert any("broken.png" in l for l in lines) and any("notes.txt" in l for l in lines)


def test_folder_with_no_usable_images_names_folder_and_skips(tmp_path, cache):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "a.png").write_bytes(b"nope")
    (root / "b.txt").write_text("x")
    with pytest.raises(DataError) as e:
        load_dataset("folder", data_dir=root, cache_dir=cache)
    assert str(root) in str(e.value) and "corrupt" in str(e.value) and "not image" in str(e.value)


def test_folder_cache_is_reused_and_invalidated(tmp_path, cache, monkeypatch):
    root = tmp_path / "imgs"
    for i in range(4):
        write_image(root / f"{i}.png", color=(i * 60, 0, 0))
    first = load_dataset("folder", data_dir=root, cache_dir=cache)
    assert len(list((cache / "folders").glob("*.npz"))) == 1

    def must_not_decode(*a, **k):
        raise AssertionError("decoded again although the cache is valid")
    monkeypatch.setattr(folder, "decode_image", must_not_decode)
    second = load_dataset("folder", data_dir=root, cache_dir=cache)
    assert torch.equal(first.x, second.x)

    write_image(root / "new.png")                       # a change in the folder: decode again
    with pytest.raises(DataError, match="No usable images"):
        load_dataset("folder", data_dir=root, cache_dir=cache)   # every decode "fails" now
    monkeypatch.undo()
    assert load_dataset("folder", data_dir=root, cache_dir=cache).info.n == 5


def test_decompression_bomb_is_skipped_as_too_large(tmp_path, cache, monkeypatch):
    root = tmp_path / "imgs"
    write_image(root / "small.png", w=20, h=20)
    write_image(root / "big.png", w=60, h=60)
    monkeypatch.setattr(folder, "MAX_IMAGE_PIXELS", 1000)          # our header check
    data = load_dataset("folder", data_dir=root, cache_dir=cache)
    assert data.info.n == 1 and data.info.skipped == {"too_large": 1}
    # PIL's own guard (error above 2x its limit) is caught too.
    monkeypatch.setattr(folder, "MAX_IMAGE_PIXELS", 10**9)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = load_dataset("folder", data_dir=root, cache_dir=tmp_path / "other-cache")
    assert data.info.skipped == {"too_large": 1}


# ----------------------------------------------------------------------------- zip archives
def test_zip_with_wrapper_and_class_folders_loads_from_memory(tmp_path, cache):
    z = make_zip(tmp_path / "up.zip", {
        "photos/cat/1.png": png_bytes(color=(255, 0, 0)),
        "photos/cat/2.png": png_bytes(color=(255, 0, 0)),
        "photos/dog/1.png": png_bytes(color=(0, 255, 0)),
        "photos/readme.txt": b"hi",
        "__MACOSX/photos/cat/._1.png": b"resource fork",
        "photos/.DS_Store": b"junk",
    })
    assert sorted(check_zip(z)) == ["photos/cat/1.png", "photos/cat/2.png", "photos/dog/1.png"]
    before = all_files(tmp_path)
    data = load_dataset("folder", data_dir=z, image_size=28, cache_dir=cache)
    assert data.info.source == "zip" and data.info.class_names == ["cat", "dog"]
    assert data.info.skipped == {"not_image": 1} and data.x.shape == (3, 3, 28, 28)
    # Only the decoded-image cache was written: nothing was extracted next to the zip.
    assert {p for p in all_files(tmp_path) - before if not p.startswith("cache")} == set()


def test_zip_with_dotdot_member_is_rejected_and_nothing_written(tmp_path, cache):
    z = make_zip(tmp_path / "evil.zip", {"ok.png": png_bytes(), "../evil.png": png_bytes()})
    before = all_files(tmp_path)
    with pytest.raises(DataError) as e:
        load_dataset("folder", data_dir=z, cache_dir=cache)
    assert "../evil.png" in str(e.value) and str(z) in str(e.value)
    with pytest.raises(DataError, match=r"\.\./evil\.png"):
        check_zip(z)
    assert all_files(tmp_path) == before and not (tmp_path.parent / "evil.png").exists()
    assert not cache.exists()


def _symlink_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.png", png_bytes())
        info = zipfile.ZipInfo("link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("case", ["absolute", "symlink", "too_many", "not_zip", "empty", "bomb",
                                  "total_size", "no_images"])
def test_bad_zips_are_rejected(case, tmp_path, cache, monkeypatch):
    p = tmp_path / "up.zip"
    expect = str(p)
    if case == "absolute":
        make_zip(p, {"ok.png": png_bytes(), "/tmp/abs.png": png_bytes()})
        expect = "/tmp/abs.png"
    elif case == "symlink":
        _symlink_zip(p)
        expect = "link.png"
    elif case == "too_many":
        monkeypatch.setattr(archive, "MAX_ZIP_ENTRIES", 3)
        make_zip(p, {f"{i}.png": png_bytes() for i in range(4)})
        expect = "limit is 3"
    elif case == "not_zip":
        p.write_bytes(png_bytes())
        expect = "is not a zip archive"
    elif case == "empty":
        make_zip(p, {})
        expect = "empty zip"
    elif case == "bomb":
        monkeypatch.setattr(archive, "RATIO_CHECK_MIN_BYTES", 100_000)
        make_zip(p, {"ok.png": png_bytes(), "zeros.png": bytes(2_000_000)})
        expect = "zeros.png"
    elif case == "total_size":
        monkeypatch.setattr(archive, "MAX_ZIP_TOTAL_BYTES", 1000)
        make_zip(p, {"a.png": png_bytes(), "b.png": bytes(2000)})
        expect = "b.png"
    elif case == "no_images":
        make_zip(p, {"a.txt": b"x", "b.csv": b"y"})
        expect = "a.txt"
    with pytest.raises(DataError) as e:
        load_dataset("folder", data_dir=p, cache_dir=cache)
    assert expect in str(e.value) and str(p) in str(e.value)
    with pytest.raises(DataError):
        check_zip(p)
    assert not cache.exists()


# ----------------------------------------------------------------------------- npz files
def _write_npz(path: Path, n_train=12, n_test=6, with_test=True) -> Path:
    images = np.zeros((n_train + n_test, 28, 28), dtype=np.uint8)
    images[n_train:] = 255                                     # test images are white
    labels = np.arange(n_train + n_test, dtype=np.uint8) % 3
    arrays = dict(images=images, labels=labels)
    if with_test:
        arrays["is_test"] = np.r_[np.zeros(n_train), np.ones(n_test)].astype(np.uint8)
    np.savez(path, **arrays)
    return path


def test_npz_file_and_folder_with_is_test_filtering(tmp_path, cache):
    f = _write_npz(tmp_path / "mine.npz")
    data = load_dataset("fashion-mnist", data_dir=f, cache_dir=cache)
    assert data.info.source == "npz" and data.info.location == str(f)
    assert data.info.n == 12 and int(data.x.max()) == 0          # no test (white) image left
    assert torch.bincount(data.y).tolist() == [4, 4, 4]

    folder_dir = tmp_path / "datasets"
    folder_dir.mkdir()
    _write_npz(folder_dir / "fashion-mnist.npz")
    _write_npz(folder_dir / "mnist-10k.npz", n_train=9, with_test=False)
    fm = load_dataset("fashion-mnist", data_dir=folder_dir, cache_dir=cache)
    assert fm.info.n == 12 and fm.info.location.endswith("fashion-mnist.npz")
    mn = load_dataset("mnist", data_dir=folder_dir, cache_dir=cache)
    assert mn.info.n == 15 and mn.info.location.endswith("mnist-10k.npz")   # no is_test: all


def test_bad_npz_files_name_the_path(tmp_path, cache):
    no_images = tmp_path / "no_images.npz"
    np.savez(no_images, pictures=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="no 'images' array") as e:
        load_dataset("mnist", data_dir=no_images, cache_dir=cache)
    assert str(no_images) in str(e.value)

    bad_labels = tmp_path / "bad_labels.npz"
    np.savez(bad_labels, images=np.zeros((2, 28, 28), np.uint8), labels=np.array([0, 12]))
    with pytest.raises(DataError, match="labels") as e:
        load_dataset("mnist", data_dir=bad_labels, cache_dir=cache)
    assert str(bad_labels) in str(e.value)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError) as e:                          # never unpickled
        load_dataset("mnist", data_dir=pickled, cache_dir=cache)
    assert str(pickled) in str(e.value)

    empty_dir = tmp_path / "nothing_here"
    empty_dir.mkdir()
    with pytest.raises(DataError, match="No MNIST data found") as e:
        load_dataset("mnist", data_dir=empty_dir, cache_dir=cache)
    assert str(empty_dir) in str(e.value)


# ----------------------------------------------------------------------------- torchvision
def _idx_gz(array: np.ndarray) -> bytes:
    """The IDX format of MNIST (magic 0x08 = uint8, then dims, then data), gzipped."""
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def _fake_mnist_files(folder_: Path, n_train=20, n_test=10) -> list[tuple[str, str]]:
    """Images filled with their index (so they can be identified after shuffling), labels i % 10."""
    files = {
        "train-images-idx3-ubyte.gz": _idx_gz(np.arange(n_train, dtype=np.uint8)[:, None, None]
                                              * np.ones((1, 28, 28), np.uint8)),
        "train-labels-idx1-ubyte.gz": _idx_gz(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte.gz": _idx_gz(np.zeros((n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": _idx_gz(np.arange(n_test) % 10),
    }
    folder_.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (folder_ / name).write_bytes(blob)
    return [(name, hashlib.md5(blob).hexdigest()) for name, blob in files.items()]


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; yields (base url, list of paths asked)."""
    served = tmp_path / "served"
    served.mkdir()
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            asked.append(self.path)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Handler, directory=str(served)))
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", served, asked
    finally:
        srv.shutdown()
        srv.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_from_local_mirror_then_auto_uses_the_cache(tmp_path, cache, local_server, monkeypatch):
    import torchvision.datasets as tvd

    url, served, asked = local_server
    resources = _fake_mnist_files(served)
    monkeypatch.setattr(tvd.MNIST, "mirrors", [url])
    monkeypatch.setattr(tvd.MNIST, "resources", resources)
    data = load_dataset("mnist", source="download", cache_dir=cache)
    assert any(p.endswith("train-images-idx3-ubyte.gz") for p in asked)
    assert data.info.source == "torchvision" and data.info.n == 20
    assert data.info.location == str(cache / "torchvision")
    assert (cache / "torchvision" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    ids = data.x[:, 0, 0, 0].long()
    assert sorted(ids.tolist()) == list(range(20)) and torch.equal(data.y, ids % 10)

    # "auto" now finds the downloaded copy; the network is not used again.
    monkeypatch.setattr(tvd.MNIST, "mirrors", [_closed_port_url()])
    auto = load_dataset("mnist", cache_dir=cache, max_images=10, seed=1)
    assert auto.info.source == "torchvision" and auto.info.n == 10
    assert torch.bincount(auto.y).tolist() == [1] * 10
    # The same files as a data_dir (the root, or the MNIST folder inside it).
    for d in (cache / "torchvision", cache / "torchvision" / "MNIST"):
        assert load_dataset("mnist", data_dir=d, cache_dir=tmp_path / "x").info.n == 20


def test_offline_download_failure_points_to_bundled(cache, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.FashionMNIST, "mirrors", [_closed_port_url()])
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist", source="download", cache_dir=cache)
    msg = str(e.value)
    assert "Downloading Fashion-MNIST" in msg and "failed" in msg and "bundled" in msg
    assert str(cache / "torchvision") in msg


def test_cifar10_offline_and_bundled_errors(cache, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.CIFAR10, "url", _closed_port_url() + "cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="CIFAR-10 is not on this machine and could not be downloaded"):
        load_dataset("cifar10", cache_dir=cache)
    with pytest.raises(DataError, match="source 'bundled'"):
        load_dataset("cifar10", source="bundled", cache_dir=cache)


def test_cifar10_from_a_torchvision_root(tmp_path, cache, monkeypatch):
    """Fake batch files (md5s patched in, as torchvision only unpickles files matching them)."""
    import torchvision.datasets as tvd

    base = tmp_path / "root" / "cifar-10-batches-py"
    base.mkdir(parents=True)
    names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def dump(fn, obj):
        blob = pickle.dumps(obj)
        (base / fn).write_bytes(blob)
        return [fn, hashlib.md5(blob).hexdigest()]
    rows = np.zeros((2, 3072), np.uint8)
    rows[:, :1024], rows[:, 1024:2048], rows[:, 2048:] = 10, 20, 30          # R, G, B planes
    train = [dump(f"data_batch_{i}", {"data": rows, "labels": [i % 10, (i + 5) % 10]}) for i in range(1, 6)]
    monkeypatch.setattr(tvd.CIFAR10, "train_list", train)
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [dump("test_batch", {"data": rows, "labels": [0, 1]})])
    fn, md5 = dump("batches.meta", {"label_names": names})
    monkeypatch.setattr(tvd.CIFAR10, "meta", {"filename": fn, "key": "label_names", "md5": md5})

    data = load_dataset("cifar10", data_dir=base, cache_dir=cache)     # the folder inside works too
    assert data.x.shape == (10, 3, 32, 32) and data.info.class_names == names
    assert data.x[0, :, 0, 0].tolist() == [10, 20, 30]
    assert data.info.source == "torchvision" and data.info.num_classes == 10
    grey = load_dataset("cifar10", data_dir=base.parent, channels=1, image_size=28, cache_dir=cache)
    assert grey.x.shape == (10, 1, 28, 28) and int(grey.x[0, 0, 5, 5]) == round(.299 * 10 + .587 * 20 + .114 * 30)


# ----------------------------------------------------------------------------- toys
def test_toys_shapes_labels_and_modes():
    ring, grid = toy_modes("ring"), toy_modes("grid")
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), 2.0)
    assert grid.shape == (25, 2) and sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    assert toy_modes("spiral") is None and toy_modes("moons") is None
    for name, k in (("ring", 8), ("grid", 25)):
        d = load_dataset(name, max_images=1000, seed=5)
        assert d.x.shape == (1000, 2) and d.x.dtype == torch.float32 and d.y.dtype == torch.int64
        assert (d.info.kind, d.info.source, d.info.num_classes, d.info.channels, d.info.image_size) == \
            ("points", "toy", k, 0, 0)
        centres = torch.from_numpy(toy_modes(name))[d.y]
        assert (d.x - centres).norm(dim=1).max() < 0.05 * 6       # every point sits on its mode
        assert torch.bincount(d.y).min() >= 1000 // k
    moons = load_dataset("moons", max_images=500)
    assert moons.info.num_classes == 2 and set(moons.y.tolist()) == {0, 1}
    spiral = load_dataset("spiral")
    assert spiral.y is None and spiral.info.num_classes == 0 and spiral.x.shape == (20_000, 2)
    assert spiral.x.abs().max() < 3


def test_toys_are_deterministic_per_seed():
    for name in TOY_DATASETS:
        a, b = load_dataset(name, max_images=300, seed=7), load_dataset(name, max_images=300, seed=7)
        c = load_dataset(name, max_images=300, seed=8)
        assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


# ----------------------------------------------------------------------------- API details
def test_device_placement_and_info_round_trip(cache):
    d = load_dataset("mnist", max_images=10, device=torch.device("cpu"), cache_dir=cache)
    assert d.x.device.type == "cpu" and d.y.device.type == "cpu" and len(d) == 10
    assert isinstance(d, LoadedData)
    text = json.dumps(dataclasses.asdict(d.info))
    assert DataInfo.from_dict(json.loads(text)) == d.info
    with pytest.raises(DataError, match="device"):
        load_dataset("ring", device="banana")


def test_constants_and_cache_dir(monkeypatch, tmp_path):
    assert DATASETS == ("mnist", "fashion-mnist", "cifar10", "folder", "ring", "grid", "spiral", "moons")
    assert set(TOY_DATASETS) | set(IMAGE_DATASETS) == set(DATASETS)
    monkeypatch.setenv("GAN_PLAYGROUND_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GAN_PLAYGROUND_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "gan-playground"


@pytest.mark.parametrize("kwargs, field", [
    (dict(name="nope"), "dataset"),
    (dict(name="mnist", image_size=30), "image_size"),
    (dict(name="mnist", channels=2), "channels"),
    (dict(name="mnist", max_images=0), "max_images"),
    (dict(name="mnist", seed=-1), "seed"),
    (dict(name="mnist", source="web"), "source"),
    (dict(name="folder"), "data_dir"),
    (dict(name="folder", data_dir="/no/such/folder"), "/no/such/folder"),
    (dict(name="mnist", data_dir="/no/such/file.npz"), "/no/such/file.npz"),
])
def test_data_errors_name_the_field_or_path(kwargs, field, cache):
    name = kwargs.pop("name")
    with pytest.raises(DataError) as e:
        load_dataset(name, cache_dir=cache, **kwargs)
    assert field in str(e.value)
    assert isinstance(e.value, ValueError)
