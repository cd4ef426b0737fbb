"""Fixed noise, sample grids, toy-data plots, and generators loaded back from run folders.

Every grid of a run uses the same fixed noise (pytorch/examples dcgan), drawn from ``sample_seed``
on the CPU so that it is identical on every device and across runs with the same ``z_dim``: that is
what makes epochs, and GAN against DCGAN, comparable by eye.
"""

from __future__ import annotations

import io
import re

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import checkpoint
from .models import ModelSpec, build_models
from .runs import Run, RunError, UnsafeEntry, entry_kind

GRID_PAD = 2
TOY_EXTENT = 5.0       # toy plots show [-5, 5]²
TOY_GRID = 64          # D's output is evaluated on a 64×64 lattice
TOY_PLOT_PX = 384


def latent_noise(z_dim: int, n: int, generator: torch.Generator | None = None, cont_codes: int = 0,
                 device=None) -> torch.Tensor:
    """[n, z_dim] inputs of a generator: standard normal noise, except that the first ``cont_codes``
    entries (InfoGAN's continuous codes) are uniform in [-1, 1], drawn after the noise."""
    z = torch.randn(n, z_dim, generator=generator, device=device)
    if cont_codes:
        z[:, :cont_codes] = torch.rand(n, cont_codes, generator=generator, device=device) * 2 - 1
    return z


def fixed_noise(z_dim: int, n: int, seed: int, cont_codes: int = 0) -> torch.Tensor:
    """[n, z_dim] fixed inputs (:func:`latent_noise`), the same for the same (z_dim, n, seed, cont_codes)
    everywhere."""
    return latent_noise(z_dim, n, torch.Generator().manual_seed(int(seed)), cont_codes)


def grid_inputs(z_dim: int, num_classes: int, sample_count: int, seed: int, cont_codes: int = 0):
    """Noise and labels for a run's sample grid: conditional runs (and InfoGAN's categorical code) get
    one row per class (8 columns, the same 8 noise vectors in every row); others ``sample_count``
    images."""
    if num_classes:
        z = fixed_noise(z_dim, 8, seed, cont_codes).repeat(num_classes, 1)
        y = torch.arange(num_classes).repeat_interleave(8)
        return z, y, 8
    n = sample_count
    return fixed_noise(z_dim, n, seed, cont_codes), None, int(np.ceil(np.sqrt(n)))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float [N, C, H, W] → uint8 [N, H, W, C] numpy."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def make_grid(images: np.ndarray, ncol: int, pad: int = GRID_PAD) -> np.ndarray:
    """uint8 [N, H, W, C] → one uint8 [rows·(H+pad)+pad, ncol·(W+pad)+pad, C] image, dark padding."""
    n, h, w, c = images.shape
    rows = int(np.ceil(n / ncol))
    out = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, c), 40, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, ncol)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = images[i]
    return out


def png_bytes(array: np.ndarray) -> bytes:
    """uint8 [H, W] / [H, W, 1] / [H, W, 3] → PNG bytes."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# ----------------------------------------------------------------------------- toy data plots
def toy_lattice(extent: float = TOY_EXTENT, n: int = TOY_GRID) -> torch.Tensor:
    """[n·n, 2] points of a regular lattice over [-extent, extent]², row-major from the top (y high)."""
    xs = torch.linspace(-extent, extent, n)
    ys = torch.linspace(extent, -extent, n)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def toy_plot(real: np.ndarray, fake: np.ndarray, d_surface: np.ndarray | None,
             extent: float = TOY_EXTENT, px: int = TOY_PLOT_PX) -> np.ndarray:
    """RGB uint8 [px, px, 3]: D's output as a heat map (blue = 'fake', orange = 'real'),
    real points in dark green, generated points in magenta."""
    if d_surface is not None:
        s = np.clip(np.asarray(d_surface, dtype=np.float32), 0.0, 1.0)
        lo = np.array([70, 110, 200], np.float32)
        hi = np.array([245, 170, 80], np.float32)
        heat = (lo + (hi - lo) * s[..., None]).astype(np.uint8)
        img = Image.fromarray(heat).resize((px, px), Image.BILINEAR)
    else:
        img = Image.new("RGB", (px, px), (235, 235, 235))
    draw = ImageDraw.Draw(img)

    def to_px(p):
        return (p[:, 0] + extent) / (2 * extent) * (px - 1), (extent - p[:, 1]) / (2 * extent) * (px - 1)

    for pts, colour in ((real, (20, 110, 50)), (fake, (200, 0, 160))):
        if pts is None or len(pts) == 0:
            continue
        xs, ys = to_px(np.asarray(pts, dtype=np.float32))
        for x, y in zip(xs, ys):
            draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
    return np.asarray(img)


def surface_as_probability(objective: str, logits: torch.Tensor) -> torch.Tensor:
    """Map D's raw output on the lattice to [0, 1] for display. BCE-family outputs are logits
    (sigmoid); critic scores (hinge, WGAN-GP, LSGAN) are min-max scaled since they have no
    probability meaning."""
    if objective in ("bce", "minimax"):
        return torch.sigmoid(logits)
    lo, hi = logits.min(), logits.max()
    return (logits - lo) / (hi - lo).clamp_min(1e-8)


# ----------------------------------------------------------------------------- loading back
_SNAP = re.compile(r"^snapshot_epoch_(\d+)$")


def load_snapshot(run: Run, epoch: int | None = None, device="cpu", with_d: bool = False,
                  with_extra: bool = False):
    """(G, D or None, meta) from the generator snapshot at ``epoch`` (newest when None); with
    ``with_extra`` (G, D or None, meta, extra), where ``extra`` maps the snapshot's other modules
    (BiGAN's encoder "E") to modules in eval mode, built by the run's family.

    The models are rebuilt from the ModelSpec stored in the snapshot's JSON, so a snapshot never
    depends on the code's defaults."""
    epochs = run.snapshot_epochs()
    if not epochs:
        kind = entry_kind(run.checkpoints_dir)
        if kind:  # listed as empty because it is never followed: say so
            raise UnsafeEntry(f"{run.checkpoints_dir} is {kind}, not a folder inside the run folder: refused")
        raise RunError(f"{run.path} has no generator snapshots yet")
    if epoch is None:
        epoch = epochs[-1]
    if epoch not in epochs:
        raise RunError(f"no generator snapshot at epoch {epoch}; saved epochs: "
                       f"{', '.join(map(str, epochs))}")
    tensors, meta = checkpoint.load(run.snapshot_stem(epoch), device="cpu", root=run.path)
    try:
        spec = ModelSpec.from_dict(meta["model"])
        spec.validate()
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise checkpoint.CheckpointError(f"snapshot of epoch {epoch} has an invalid model description: {e}") from None
    checkpoint.check_fits_file(spec, meta, with_d=False, what=f"snapshot of epoch {epoch}")
    G, D = build_models(spec)
    checkpoint.load_module_state(G, {k: v.float() for k, v in checkpoint.unprefixed("G", tensors).items()},
                                 "generator")
    G = G.to(device).eval()
    if with_d:
        d_state = checkpoint.unprefixed("D", tensors)
        if d_state:
            checkpoint.load_module_state(D, {k: v.float() for k, v in d_state.items()}, "discriminator")
            D = D.to(device).eval()
        else:
            D = None
    else:
        D = None
    if not with_extra:
        return G, D, meta
    return G, D, meta, _extra_modules(tensors, meta, spec, device, epoch)


def _extra_modules(tensors: dict, meta: dict, spec: ModelSpec, device, epoch) -> dict:
    """The snapshot's modules besides G and D (tensors "E.*" → the family's "E")."""
    names = sorted({k.split(".", 1)[0] for k in tensors} - {"G", "D"})
    if not names:
        return {}
    from .families import step_class

    family = str((meta.get("config") or {}).get("family", "gan"))
    out = {}
    for name in names:
        try:
            module = step_class(family).snapshot_module(name, spec)
        except ValueError as e:
            raise checkpoint.CheckpointError(f"snapshot of epoch {epoch}: {e}") from None
        checkpoint.load_module_state(module, {k: v.float() for k, v in checkpoint.unprefixed(name, tensors).items()},
                                     name)
        out[name] = module.to(device).eval()
    return out


@torch.no_grad()
def generate(G, n: int, *, seed: int = 0, label: int | None = None, z: torch.Tensor | None = None,
             device="cpu", code_values=None) -> torch.Tensor:
    """n outputs of G: images [n, C, H, W] in [-1, 1] or points [n, 2]. Conditional models get
    ``label`` for every sample, or labels cycling over all classes when it is None (an InfoGAN
    generator: its categorical code). ``code_values``: InfoGAN's continuous codes, one value in
    [-1, 1] per code, fixed for every sample."""
    if z is None:
        z = fixed_noise(G.z_dim, n, seed, getattr(G, "cont_codes", 0))
    if code_values is not None:
        z = with_codes(z, code_values, getattr(G, "cont_codes", 0))
    y = None
    what = "code" if getattr(G, "label_role", "class") == "code" else "class"
    if G.num_classes:
        if label is None:
            y = torch.arange(n) % G.num_classes
        else:
            if not 0 <= label < G.num_classes:
                raise ValueError(f"{what} must be between 0 and {G.num_classes - 1}, got {label}")
            y = torch.full((n,), int(label), dtype=torch.long)
        y = y.to(device)
    elif label is not None:
        if what == "code":
            raise ValueError("this run has no categorical code to choose (it was trained with 0 code values)")
        raise ValueError("this run is not conditional: it has no classes to choose from")
    return G(z.to(device), y)


def with_codes(z: torch.Tensor, values, cont_codes: int) -> torch.Tensor:
    """A copy of latents z [N, z_dim] whose first ``cont_codes`` entries (InfoGAN's continuous codes)
    are ``values`` (one number in [-1, 1] per code). ValueError names what is wrong."""
    if not cont_codes:
        raise ValueError("this run has no continuous codes (only InfoGAN runs with continuous codes have them)")
    values = [float(v) for v in values]
    if len(values) != cont_codes:
        raise ValueError(f"this run has {cont_codes} continuous code(s); got {len(values)} value(s)")
    for i, v in enumerate(values):
        if not -1.0 <= v <= 1.0:   # also refuses nan
            raise ValueError(f"continuous code {i + 1} must be between -1 and 1 (the range it was trained "
                             f"on); got {v:g}")
    z = z.clone()
    z[:, :cont_codes] = torch.tensor(values, dtype=z.dtype, device=z.device)
    return z
