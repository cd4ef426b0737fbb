"""Images and downloads built in memory from a run folder: upscaled grids, the progression GIF,
a zip of every grid, and the newest generator snapshot. No streamlit, nothing written to disk.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from playground.runs import Run, RunError

DISPLAY_WIDTH = 768     # grids are upscaled (nearest neighbour) to about this many pixels across
GIF_WIDTH = 512         # GIF frames stay small enough to share
GIF_FRAME_MS = 350
GIF_LAST_FRAME_MS = 1500
GIF_MAX_FRAMES = 24     # the default GIF: enough to see the progression, small enough to share
GIF_COLOURS = 32


def upscale(img: Image.Image, target_width: int = DISPLAY_WIDTH) -> Image.Image:
    """Enlarge ``img`` by the integer factor that brings it closest to ``target_width`` without
    going over (at least 1), with nearest neighbour so pixels stay crisp instead of blurring."""
    factor = max(1, target_width // max(1, img.width))
    if factor == 1:
        return img
    return img.resize((img.width * factor, img.height * factor), Image.NEAREST)


def open_grid(path: Path) -> Image.Image:
    """The PNG at ``path`` as an RGB or L image, fully loaded (the file is closed)."""
    with Image.open(path) as im:
        im.load()
        return im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def display_png(path: Path, target_width: int = DISPLAY_WIDTH) -> bytes:
    """The grid at ``path``, upscaled for display, as PNG bytes."""
    return png_bytes(upscale(open_grid(path), target_width))


def _labelled(img: Image.Image, text: str) -> Image.Image:
    """``img`` with a dark band on top holding ``text`` (e.g. "epoch 12")."""
    band = 18
    out = Image.new("RGB", (img.width, img.height + band), (30, 30, 30))
    out.paste(img.convert("RGB"), (0, band))
    font = _label_font()
    if font is None:   # Pillow's own fonts have no accents: "época" is written "epoca"
        text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
        font = ImageFont.load_default()
    ImageDraw.Draw(out).text((6, 2), text, fill=(255, 255, 255), font=font)
    return out


_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf", "Arial.ttf")


def _label_font():
    """A system font with accents for the frame labels, or None where there is none."""
    for name in _FONTS:
        try:
            return ImageFont.truetype(name, 12)
        except (OSError, ImportError):
            continue
    return None


def gif_epochs(epochs: list[int], max_frames: int | None = None) -> list[int]:
    """At most ``max_frames`` of ``epochs``, evenly spread, always with the first and the last
    (all of them when ``max_frames`` is None)."""
    if max_frames is None or len(epochs) <= max_frames:
        return list(epochs)
    n = max(2, max_frames)
    picks = sorted({round(i * (len(epochs) - 1) / (n - 1)) for i in range(n)})
    return [epochs[i] for i in picks]


def progression_gif(run: Run, epochs: list[int] | None = None, width: int = GIF_WIDTH,
                    max_frames: int | None = GIF_MAX_FRAMES, label: str = "epoch {epoch}") -> bytes:
    """An animated GIF of the run's fixed-noise grids, one frame per saved epoch (labelled; at most
    ``max_frames`` of them, evenly spread, None for every epoch), the last frame held longer.
    RunError when the run has no grids yet.

    Frames share one 32-colour palette: the grids are grey or few-coloured, and a full 256-colour
    palette per frame made a 101-epoch run's GIF 9.8 MB."""
    epochs = run.sample_epochs() if epochs is None else epochs
    if not epochs:
        raise RunError("this run has no sample grids yet")
    epochs = gif_epochs(epochs, max_frames)
    # ``label``: each frame's caption in the reader's language ("época {epoch}")
    frames = [_labelled(upscale(open_grid(run.sample_path(e)), width), label.format(epoch=e)) for e in epochs]
    palette = frames[-1].quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    durations = [GIF_FRAME_MS] * (len(frames) - 1) + [GIF_LAST_FRAME_MS]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=0, optimize=True)
    return buf.getvalue()


def grids_zip(run: Run) -> bytes:
    """Every sample grid of the run (PNG, and the toy .npz arrays) in a zip built in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed
        for e in run.sample_epochs():
            for ext in ("png", "npz"):
                p = run.sample_path(e, ext)
                if p.is_file():
                    zf.write(p, arcname=f"{run.id}/samples/{p.name}")
    return buf.getvalue()


def newest_snapshot_files(run: Run) -> tuple[Path, Path] | None:
    """(.safetensors, .json) of the newest generator snapshot, or None when there is none."""
    epochs = run.snapshot_epochs()
    if not epochs:
        return None
    stem = run.snapshot_stem(epochs[-1])
    tensors, meta = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if not (tensors.is_file() and meta.is_file()):
        return None
    return tensors, meta
