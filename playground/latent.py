"""Inference-only helpers for exploring a trained generator: latent vectors, interpolation, vector
arithmetic, fast PNGs, real examples beside fakes, and for 2D toys D's decision surface and the
generator's gradient field.

Everything here runs on the CPU under ``torch.inference_mode`` (except the gradient field, which
needs autograd through D but never updates a weight). Generators are kept in a small LRU cache
keyed by (run folder, epoch, snapshot mtime), so moving a latent slider costs one forward pass and
one PNG encode, and a snapshot rewritten by a resumed run is reloaded, never served stale.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import losses, sampling
from .config import TrainConfig
from .i18n import msg
from .runs import Run, RunError, read_bytes

DEFAULT_CACHE_SIZE = 4   # a few generators: two compared runs plus the explorer's, at most ~100 MB


# ----------------------------------------------------------------------------- one CPU thread
_threads_lock = threading.Lock()
_thread_users = 0
_saved_threads = 1


@contextmanager
def one_thread():
    """Run torch on one CPU thread inside this block (restored after the last concurrent user).

    A forward pass for one latent vector is too small to split: with two or more intra-op threads on
    a CPU that is busy (a training worker next to the dashboard) each call waits for sibling threads
    and takes many times longer (benchmarks/README.md, "Speed"). Switching the count costs
    microseconds."""
    global _thread_users, _saved_threads
    with _threads_lock:
        if _thread_users == 0:
            _saved_threads = torch.get_num_threads()
            if _saved_threads != 1:
                torch.set_num_threads(1)
        _thread_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _thread_users -= 1
            if _thread_users == 0 and _saved_threads != 1:
                torch.set_num_threads(_saved_threads)


# ----------------------------------------------------------------------------- cached generators
@dataclass
class LoadedGenerator:
    """A generator snapshot ready for inference. ``D`` is the discriminator of 2D toy snapshots
    (None for image runs, whose snapshots hold G alone); ``E`` the encoder of a BiGAN snapshot
    (images → z; None for other families)."""

    G: torch.nn.Module
    D: torch.nn.Module | None
    epoch: int
    objective: str
    sample_seed: int
    class_names: list[str]
    key: tuple
    E: torch.nn.Module | None = None

    @property
    def z_dim(self) -> int:
        return int(self.G.z_dim)

    @property
    def num_classes(self) -> int:
        return int(self.G.num_classes)

    @property
    def is_points(self) -> bool:
        return bool(self.G.spec.is_points)

    @property
    def cont_codes(self) -> int:
        """InfoGAN's continuous codes: the first ``cont_codes`` entries of z (0 for other runs)."""
        return int(getattr(self.G, "cont_codes", 0))

    @property
    def has_codes(self) -> bool:
        """An InfoGAN generator: its label is a categorical code, and z may start with continuous codes."""
        return getattr(self.G, "label_role", "class") == "code"


def snapshot_key(run: Run, epoch: int) -> tuple:
    """(resolved run folder, epoch, mtime_ns, size) of the epoch's snapshot tensors: a stat, no read.

    A resumed run that drops and re-saves an epoch gets a new mtime, hence a new key."""
    path = run.snapshot_stem(epoch).with_suffix(".safetensors")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RunError(f"no generator snapshot at epoch {epoch}; saved epochs: "
                       f"{', '.join(map(str, run.snapshot_epochs())) or 'none yet'}") from None
    return (str(Path(run.path).resolve()), int(epoch), info.st_mtime_ns, info.st_size)


class GeneratorCache:
    """A thread-safe LRU of :class:`LoadedGenerator` (Streamlit serves sessions from threads)."""

    def __init__(self, maxsize: int = DEFAULT_CACHE_SIZE):
        self.maxsize = max(1, int(maxsize))
        self._items: OrderedDict[tuple, LoadedGenerator] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0   # how many snapshots were read from disk (for tests and the curious)

    def get(self, run: Run, epoch: int) -> LoadedGenerator:
        key = snapshot_key(run, epoch)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        G, D, meta, extra = sampling.load_snapshot(run, epoch, with_d=True, with_extra=True)
        cfg = meta.get("config") or {}
        data = meta.get("data") or {}
        loaded = LoadedGenerator(G=G, D=D, epoch=int(epoch), objective=str(cfg.get("objective", "bce")),
                                 sample_seed=int(cfg.get("sample_seed", 1234)),
                                 class_names=[str(c) for c in data.get("class_names") or []], key=key,
                                 E=extra.get("E"))
        with self._lock:
            self.loads += 1
            # an older mtime of the same run and epoch can never be asked for again
            for k in [k for k in self._items if k[:2] == key[:2]]:
                del self._items[k]
            self._items[key] = loaded
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return loaded

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_CACHE = GeneratorCache()


def load_generator(run: Run, epoch: int) -> LoadedGenerator:
    """The run's snapshot at ``epoch`` from the process-wide cache (loaded on first use)."""
    return _CACHE.get(run, epoch)


# ----------------------------------------------------------------------------- latent vectors
def seed_latent(z_dim: int, seed: int, cont_codes: int = 0) -> torch.Tensor:
    """[z_dim] generator input, the same for the same (z_dim, seed, cont_codes) everywhere: standard
    normal, with InfoGAN's ``cont_codes`` continuous codes first, uniform in [-1, 1]."""
    return sampling.fixed_noise(z_dim, 1, int(seed), cont_codes)[0]


def seed_latents(z_dim: int, seeds, cont_codes: int = 0) -> torch.Tensor:
    """[len(seeds), z_dim]: one :func:`seed_latent` per seed."""
    return (torch.stack([seed_latent(z_dim, s, cont_codes) for s in seeds]) if len(seeds)
            else torch.zeros(0, z_dim))


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "linear") -> torch.Tensor:
    """[steps, z_dim] latents from ``z0`` to ``z1`` (both [z_dim]); the first row is z0, the last z1.

    "linear" walks the straight line; its midpoints have a smaller norm than Gaussian samples ever
    have (for z_dim 100, |z| ≈ 10 but the midpoint of two random z has |z| ≈ 7), so G sees inputs
    unlike any it was trained on. "slerp" walks the great circle between the two directions
    (Shoemake 1985; White 2016), keeping the norm when |z0| = |z1|.
    """
    if mode not in ("linear", "slerp"):
        raise ValueError(f"interpolation mode must be 'linear' or 'slerp', got {mode!r}")
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(f"z0 and z1 must be vectors of the same length; got {list(z0.shape)} "
                         f"and {list(z1.shape)}")
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    z0, z1 = z0.double(), z1.double()
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]        # [steps, 1]
    linear = (1 - t) * z0 + t * z1                                           # [steps, z_dim]
    if mode == "linear":
        return linear.float()
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-12 or n1 < 1e-12:
        return linear.float()   # a zero vector has no direction to rotate from
    cos = torch.clamp(torch.dot(z0 / n0, z1 / n1), -1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    if so < 1e-6:
        return linear.float()   # (anti)parallel: the great circle is not unique; a line is as good
    out = (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1
    out[0], out[-1] = z0, z1    # exact endpoints despite rounding
    return out.float()


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``a - b + c`` on latent vectors of one shape ([z_dim] or [N, z_dim]); with [N, z_dim] each
    term is first averaged over its N vectors (Radford et al. 2015 average three samples per
    concept, which makes the result steadier). Returns [z_dim]."""
    terms = []
    for name, v in (("a", a), ("b", b), ("c", c)):
        if v.dim() == 2:
            if v.shape[0] == 0:
                raise ValueError(f"pick at least one sample for {name}")
            v = v.mean(dim=0)
        if v.dim() != 1:
            raise ValueError(f"{name} must be a latent vector [z_dim] or a batch [N, z_dim]; "
                             f"got shape {list(v.shape)}")
        terms.append(v)
    if len({t.shape[0] for t in terms}) != 1:
        raise ValueError(f"a, b and c must have the same z_dim; got {[t.shape[0] for t in terms]}")
    return terms[0] - terms[1] + terms[2]


def labels_for(gen: LoadedGenerator, n: int, label: int | None) -> torch.Tensor | None:
    """int64 [n] labels for a conditional generator (all ``label``, or cycling over the classes when
    None); None for an unconditional one, which must not be given a label."""
    if not gen.num_classes:
        if label is not None:
            raise ValueError("this run is not conditional: it has no classes to choose from")
        return None
    if label is None:
        return torch.arange(n) % gen.num_classes
    if not 0 <= int(label) < gen.num_classes:
        raise ValueError(f"class must be between 0 and {gen.num_classes - 1}, got {label}")
    return torch.full((n,), int(label), dtype=torch.long)


def sample(gen: LoadedGenerator, z: torch.Tensor, label: int | None = None) -> torch.Tensor:
    """G's output for latents z [N, z_dim] (or one [z_dim]): images [N, C, H, W] in [-1, 1] or
    points [N, 2], float32 on the CPU."""
    if z.dim() == 1:
        z = z[None]
    if z.dim() != 2 or z.shape[1] != gen.z_dim:
        raise ValueError(f"latents must have shape [N, {gen.z_dim}], got {list(z.shape)}")
    y = labels_for(gen, z.shape[0], label)
    with one_thread(), torch.inference_mode():
        return gen.G(z.float(), y).float()


def sample_images(gen: LoadedGenerator, z: torch.Tensor, label: int | None = None) -> np.ndarray:
    """uint8 [N, H, W, C] images for latents z [N, z_dim]."""
    if gen.is_points:
        raise ValueError("this is a 2D toy run: its generator makes points, not images")
    return sampling.to_uint8(sample(gen, z, label))


CODE_SWEEP_STEPS = 7   # a continuous code from -1 to 1 in steps of 1/3


def code_sweep(gen: LoadedGenerator, z: torch.Tensor, code: int | None = None,
               steps: int = CODE_SWEEP_STEPS) -> tuple[np.ndarray, int]:
    """InfoGAN's codes at work on one latent z [z_dim]: uint8 [rows·cols, H, W, C] images and the
    column count. Rows: the categorical code's values (one row when the run has none); columns:
    continuous code ``code`` (0-based) from -1 to 1 in ``steps`` steps (one column, z as it is,
    when ``code`` is None). Everything else of z stays as it is."""
    if not gen.has_codes:
        raise ValueError("only InfoGAN runs have codes to sweep")
    if z.dim() != 1 or z.shape[0] != gen.z_dim:
        raise ValueError(f"z must have shape [{gen.z_dim}], got {list(z.shape)}")
    cols = 1
    zs = z[None].clone()
    if code is not None:
        if not 0 <= int(code) < gen.cont_codes:
            raise ValueError(f"continuous code must be between 1 and {gen.cont_codes}, got {int(code) + 1}")
        cols = max(2, int(steps))
        zs = z.repeat(cols, 1)
        zs[:, int(code)] = torch.linspace(-1.0, 1.0, cols)
    rows = max(1, gen.num_classes)
    zs = zs.repeat(rows, 1)                                          # [rows·cols, z_dim], row-major
    y = torch.arange(rows).repeat_interleave(cols) if gen.num_classes else None
    with one_thread(), torch.inference_mode():
        out = gen.G(zs.float(), y).float()
    return sampling.to_uint8(out), cols


# ----------------------------------------------------------------------------- BiGAN: images → z
def _encoder(gen: LoadedGenerator) -> torch.nn.Module:
    if gen.E is None:
        raise ValueError("this run has no encoder: only BiGAN runs can find an image's latent vector")
    return gen.E


def images_in(gen: LoadedGenerator, images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] images of the run's shape → float [N, C, H, W] in [-1, 1]."""
    images = np.asarray(images)
    want = (gen.G.spec.image_size, gen.G.spec.image_size, gen.G.spec.channels)
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != want:
        raise ValueError(f"images must be uint8 [N, {want[0]}, {want[1]}, {want[2]}]; got "
                         f"{images.dtype} {list(images.shape)}")
    return torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def encode_tensor(gen: LoadedGenerator, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """E(x): latent vectors [N, z_dim] of images float [N, C, H, W] in [-1, 1] (BiGAN runs)."""
    E = _encoder(gen)
    with one_thread(), torch.inference_mode():
        parts = [E(x[i:i + chunk].float()).float() for i in range(0, len(x), chunk)]
    return torch.cat(parts) if parts else torch.zeros(0, gen.z_dim)


def encode_images(gen: LoadedGenerator, images: np.ndarray) -> torch.Tensor:
    """E(x): latent vectors [N, z_dim] of uint8 images [N, H, W, C] (BiGAN runs)."""
    return encode_tensor(gen, images_in(gen, images))


def array_to_images(gen: LoadedGenerator, arr: np.ndarray) -> torch.Tensor:
    """Images given as an array (``python -m playground encode``) → float [N, C, H, W] in [-1, 1].

    Accepted: uint8 pixels (0 = black) [N, H, W] for a grey run or [N, H, W, C]; or floats in
    [-1, 1] [N, C, H, W], the generator's own format. H = W = the run's image size, C its channels.
    ValueError saying what was expected otherwise."""
    spec = gen.G.spec
    s, c = spec.image_size, spec.channels
    shape = list(arr.shape)
    if arr.dtype == np.uint8:
        if arr.ndim == 3 and c == 1:
            arr = arr[..., None]
        if arr.ndim != 4 or tuple(arr.shape[1:]) != (s, s, c):
            grey = f"[N, {s}, {s}] or " if c == 1 else ""
            raise ValueError(f"uint8 images for this run must be shaped {grey}[N, {s}, {s}, {c}]; got {shape}")
        if arr.shape[0] == 0:
            raise ValueError("the array holds no images")
        return images_in(gen, arr)
    if arr.dtype.kind == "f":
        if arr.ndim != 4 or tuple(arr.shape[1:]) != (c, s, s):
            raise ValueError(f"float images for this run must be shaped [N, {c}, {s}, {s}] with values "
                             f"in [-1, 1]; got {shape}")
        if arr.shape[0] == 0:
            raise ValueError("the array holds no images")
        if not np.isfinite(arr).all():
            raise ValueError("float images must not hold NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1.001 or hi > 1.001:
            raise ValueError(f"float images must lie in [-1, 1] (uint8 for 0-255 pixels); these go from "
                             f"{lo:g} to {hi:g}")
        return torch.from_numpy(np.clip(arr.astype(np.float32), -1, 1))
    raise ValueError(f"images must be uint8 pixels or floats in [-1, 1]; got an array of {arr.dtype}")


def reconstruct(gen: LoadedGenerator, images: np.ndarray) -> np.ndarray:
    """G(E(x)) as uint8 [N, H, W, C] for uint8 images [N, H, W, C] (BiGAN runs)."""
    return sample_images(gen, encode_images(gen, images))


def decode_upload(gen: LoadedGenerator, data: bytes, name: str = "") -> np.ndarray:
    """An uploaded PNG or JPEG file as uint8 [H, W, C] of the run's size and channels (centre square,
    resized, greyscaled for a grey run). ValueError with a plain message for anything else."""
    from .data.folder import ImageTooLarge, decode_image

    shown = Path(str(name or "")).name[:120] or "the file"
    head = bytes(data[:8])
    if not (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")):
        raise ValueError(msg("{name} is not a PNG or JPEG image", name=shown))
    try:
        arr = decode_image(bytes(data), gen.G.spec.image_size, gen.G.spec.channels)   # [C, S, S]
    except ImageTooLarge as e:
        raise ValueError(msg("{name} is too large to open ({size})", name=shown, size=str(e))) from None
    except Exception:   # PIL raises many kinds for a damaged file
        raise ValueError(msg("{name} cannot be read as an image (damaged or cut short)", name=shown)) from None
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


# ----------------------------------------------------------------------------- pictures
def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of uint8 [H, W, C] by an integer ``factor`` (crisp pixels
    instead of the browser's blur)."""
    f = max(1, int(factor))
    return image if f == 1 else image.repeat(f, axis=0).repeat(f, axis=1)


def fit_factor(size: int, target_px: int) -> int:
    """The integer zoom that brings a ``size`` px image closest to ``target_px`` (at least 1)."""
    return max(1, round(target_px / max(1, size)))


def png_fast(image: np.ndarray) -> bytes:
    """uint8 [H, W] / [H, W, 1] / [H, W, 3] → PNG bytes with light compression (level 1): an
    upscaled image is mostly runs of equal pixels, so this is as small and several times faster."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def strip(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """uint8 [N, H, W, C] → one row uint8 [H + 2·pad, N·(W + pad) + pad, C]."""
    return sampling.make_grid(images, ncol=max(1, len(images)), pad=pad)


# ----------------------------------------------------------------------------- real examples
_REAL_CACHE: OrderedDict[tuple, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
_REAL_LOCK = threading.Lock()
REAL_PER_CLASS = 16


def _real_pool(cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """A small pool of real training images, uint8 [M, H, W, C], and labels int64 [M] (or None):
    up to REAL_PER_CLASS per class (or 64 unlabeled), loaded once per dataset setting."""
    from .data import DataError, load_dataset

    if cfg.is_toy:
        raise DataError("2D toy runs have points, not images")
    key = (cfg.dataset, cfg.data_dir, cfg.data_source, cfg.image_size, cfg.channels, cfg.max_images, cfg.seed)
    with _REAL_LOCK:
        if key in _REAL_CACHE:
            _REAL_CACHE.move_to_end(key)
            return _REAL_CACHE[key]
    source = cfg.data_source
    if source == "download" or (cfg.dataset == "cifar10" and not cfg.data_dir):
        # Never reach the network from the dashboard: only a copy already on this machine will do.
        from .data import default_cache_dir
        from .data import torchvision_sets as tv

        if cfg.dataset == "cifar10" and not cfg.data_dir and not tv.looks_present(
                "cifar10", default_cache_dir() / "torchvision"):
            raise DataError("CIFAR-10 is not on this machine, so no real images can be shown")
        source = "auto"
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir or None, image_size=cfg.image_size or None,
                        channels=cfg.channels or None, max_images=cfg.max_images or None,
                        seed=cfg.seed, source=source)
    x = data.x.permute(0, 2, 3, 1).cpu().numpy()                  # uint8 [N, H, W, C]
    y = data.y.cpu().numpy() if data.y is not None else None
    if y is None:
        keep = np.arange(min(len(x), 64))
    else:
        keep = np.concatenate([np.flatnonzero(y == k)[:REAL_PER_CLASS] for k in np.unique(y)])
    pool = (np.ascontiguousarray(x[keep]), None if y is None else y[keep])
    with _REAL_LOCK:
        _REAL_CACHE[key] = pool
        while len(_REAL_CACHE) > 3:
            _REAL_CACHE.popitem(last=False)
    return pool


def real_examples(run: Run, n: int = 8, label: int | None = None) -> np.ndarray:
    """uint8 [k, H, W, C] with k ≤ n real images from the run's own dataset settings (of class
    ``label`` when given). Raises DataError when the data are not on this machine."""
    x, y = _real_pool(run.read_config())
    if label is not None and y is not None:
        x = x[y == int(label)]
    return x[: max(0, int(n))]


def real_gallery(run: Run, n: int = 12) -> np.ndarray:
    """uint8 [k, H, W, C], k ≤ n real images of the run's dataset, the classes taking turns (one of
    each class, then a second of each, …) so that a short row shows them all."""
    x, y = _real_pool(run.read_config())
    if y is None:
        return x[: max(0, int(n))]
    per_class = [np.flatnonzero(y == k) for k in np.unique(y)]
    picks = [ix[r] for r in range(max(map(len, per_class), default=0)) for ix in per_class if r < len(ix)]
    return x[np.asarray(picks[: max(0, int(n))], dtype=np.int64)]


# ----------------------------------------------------------------------------- 2D toys
def decision_surface(gen: LoadedGenerator, label: int | None = None, extent: float = sampling.TOY_EXTENT,
                     n: int = sampling.TOY_GRID) -> tuple[np.ndarray, np.ndarray]:
    """D's output on an n×n lattice over [-extent, extent]², top row = highest y:
    (display values float32 [n, n] in [0, 1] (1 = "looks real"), raw outputs float32 [n, n])."""
    if gen.D is None:
        raise RunError("this snapshot has no discriminator (only 2D toy snapshots keep D)")
    lattice = sampling.toy_lattice(extent, n)                                  # [n·n, 2]
    y = None
    if gen.num_classes:
        y = torch.full((lattice.shape[0],), 0 if label is None else int(label), dtype=torch.long)
    with one_thread(), torch.inference_mode():
        logits = gen.D(lattice, y).float().reshape(n, n)                       # [n, n]
        shown = sampling.surface_as_probability(gen.objective, logits)
    return shown.numpy(), logits.numpy()


def gradient_field(D: torch.nn.Module, objective: str, x: torch.Tensor,
                   y: torch.Tensor | None = None) -> np.ndarray:
    """float32 [N, 2]: −∂ℓ_G/∂x at each point x [N, 2], where ℓ_G is that point's own term of the
    generator loss under D (the batch loss times N, so an arrow does not shrink as N grows).

    This is the direction in which the generator's update pushes each of its points: G moves its
    weights so that G(z) follows these arrows. No weight is changed here.
    """
    x = x.detach().float().clone().requires_grad_(True)                        # [N, 2]
    with one_thread(), torch.enable_grad():
        logits = D(x, y)                                                       # [N]
        loss = losses.g_loss(objective, logits) * x.shape[0]
        (grad,) = torch.autograd.grad(loss, x)                                 # [N, 2]
    return (-grad).numpy()


def toy_field(gen: LoadedGenerator, n: int = 256, seed: int | None = None,
              label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(generated points float32 [n, 2], push directions float32 [n, 2]) for n fixed-noise points
    (the run's ``sample_seed`` unless ``seed`` is given)."""
    if gen.D is None:
        raise RunError("this snapshot has no discriminator (only 2D toy snapshots keep D)")
    z = sampling.fixed_noise(gen.z_dim, n, gen.sample_seed if seed is None else seed)    # [n, z_dim]
    y = labels_for(gen, n, label)
    with one_thread(), torch.inference_mode():
        x = gen.G(z, y).float()                                                # [n, 2]
    return x.numpy(), gradient_field(gen.D, gen.objective, x, y)


def arrow_segments(points: np.ndarray, directions: np.ndarray, max_len: float,
                   head: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Line segments for a quiver plot: (xs, ys) float arrays with NaN between arrows, each arrow a
    shaft from a point plus two head strokes. Arrows are scaled so the longest is ``max_len`` long
    (directions keep their relative lengths: a short arrow means a weak push)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(directions, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        return np.zeros(0), np.zeros(0)
    norms = np.linalg.norm(d, axis=1)
    biggest = norms.max()
    d = d * (max_len / biggest) if biggest > 0 else d * 0
    tip = p + d
    length = np.linalg.norm(d, axis=1, keepdims=True)
    unit = np.divide(d, length, out=np.zeros_like(d), where=length > 0)
    back = -unit * np.minimum(length, max_len) * head                          # head strokes point back
    rot = np.array([[np.cos(0.45), -np.sin(0.45)], [np.sin(0.45), np.cos(0.45)]])
    left, right = tip + back @ rot.T, tip + back @ rot
    nan = np.full((len(p), 2), np.nan)
    # per arrow: start, tip, left, nan, tip, right, nan
    seq = np.stack([p, tip, left, nan, tip, right, nan], axis=1).reshape(-1, 2)
    return seq[:, 0], seq[:, 1]


def toy_epoch_arrays(run: Run, epoch: int) -> dict[str, np.ndarray]:
    """The arrays the trainer saved for a toy run's epoch (samples/epoch_XXX.npz): real [512, 2],
    fake [512, 2], d_surface [64, 64], d_logits [64, 64], extent []. Never unpickles."""
    path = run.sample_path(epoch, "npz")
    try:  # a regular file inside the run folder only, read to the bound (never a link or a device)
        data = read_bytes(path, 8 * 1024 * 1024, root=run.path)
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            return {k: np.asarray(f[k]) for k in f.files}
    except (OSError, ValueError) as e:
        raise RunError(f"{path.name} cannot be read: {e}") from None


def toy_epochs(run: Run) -> list[int]:
    """Epochs of a toy run with saved plot data (samples/epoch_XXX.npz)."""
    return [e for e in run.sample_epochs() if run.sample_path(e, "npz").is_file()]
