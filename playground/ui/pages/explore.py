"""Latent explorer: move through a trained generator's input space and watch the output change.

Each section is its own fragment, so a slider move reruns only that section: one generator forward
pass on the CPU (the generator is cached in playground.latent) and one PNG encode.
"""

from __future__ import annotations

import random

import numpy as np
import streamlit as st
import torch

from playground import latent
from playground.checkpoint import CheckpointError
from playground.data import DataError
from playground.runs import Run, RunError
from playground.sampling import make_grid
from playground.ui.common import all_runs, run_picker
from playground.ui.explore_widgets import TOY_PAGE, epoch_ui, is_toy, link_or_text, no_runs_hint
from playground.ui import explore_codes, glossary
from playground.ui.i18n import lang, num, shown, tr

SLIDER_DIMS = 8        # how many latent dimensions get a slider
SLIDER_RANGE = 3.0     # ±3 standard deviations hold 99.7% of a Gaussian's values
Z_VALUES = [round(i / 100, 2) for i in range(-int(SLIDER_RANGE * 100), int(SLIDER_RANGE * 100) + 1)]
BIG_PX = 360           # the explored image is enlarged to about this size
GALLERY = 12           # samples to pick a, b, c from


def main() -> None:
    intro_ui()
    refs = all_runs()
    if not refs:
        no_runs_hint()
        return
    ref = run_picker(tr("Run"), param="run", remember=True)
    if ref is None:
        return
    if is_toy(ref):
        toy_run_ui(ref)
        return
    epochs = ref.run.snapshot_epochs()
    if not epochs:
        st.info(tr("This run has no saved generator yet: the first one is written as soon as training "
                   "starts (epoch 0, before any learning). Come back in a moment."))
        return
    chosen = generator_ui(ref, epochs)
    if chosen is None:
        return
    epoch, gen, label, class_name = chosen
    _init_state(gen)
    run_path = str(ref.run.path)
    if gen.has_codes:
        explore_codes.intro_ui()

    st.subheader(tr("Sliders"))
    st.caption(tr("Each slider is one number of z (a standard normal value: most lie between −2 and 2). "
                  "In a well-trained generator small moves give small, smooth changes."))
    main_col, real_col = st.columns([4, 1], gap="medium")
    with main_col:
        sliders_ui(run_path, epoch, label)
    with real_col:
        real_images_ui(ref.run, None if gen.has_codes else label, class_name)

    st.subheader(tr("Interpolation"))
    st.caption(tr("Walk from one seed's z to another's in equal steps. A smooth morph means the generator "
                  "learned a continuous space rather than memorising single images."))
    interpolation_ui(run_path, epoch, label)

    st.subheader(tr("Vector arithmetic"))
    st.caption(tr("Latent vectors can be added and subtracted: a − b + c keeps what a has that b lacks, "
                  "and adds c. Pick up to three samples per term; their z are averaged, which makes the "
                  "result steadier (Radford et al. 2015 did this with faces: man with glasses − man + "
                  "woman = woman with glasses)."))
    arithmetic_ui(run_path, epoch, label)

    if gen.E is not None:
        st.subheader(tr("Find an image in the latent space"))
        st.caption(tr("This BiGAN run also trained an encoder E that takes an image back to a latent vector: "
                      "z = E(x). Pick a real image, or upload your own, and see G(E(x)), the generator's "
                      "redrawing of it. It keeps what the encoder and the generator agree on (often the "
                      "class and the stroke's shape), not every pixel."))
        encoder_ui(ref.run, run_path, epoch)


def intro_ui() -> None:
    st.title(tr("Latent explorer"))
    st.markdown(tr("A generator turns a list of random numbers, the **latent vector z**, into an image. "
                   "Move the sliders to change a few of those numbers and watch which features of the "
                   "picture they control."))


def toy_run_ui(ref) -> None:
    """A 2D toy run has no images to explore: a pointer to the page that shows it."""
    st.info(tr("This is a 2D toy run: its generator makes points in the plane, not images. The 2D toy "
               "page shows them with the discriminator's view and the forces on each point."))
    link_or_text(TOY_PAGE, tr("Open it on the 2D toy page"), {"run": ref.key},
                 tr("Open the **2D toy** page in the menu."))


def generator_ui(ref, epochs: list[int]):
    """The saved generator to explore (epoch, and class for a conditional run): (epoch, generator,
    class index or None, class name or None), or None when the snapshot cannot be opened."""
    top = st.columns([3, 2])
    with top[0]:
        epoch = epoch_ui(tr("Epoch"), epochs, key=f"lx_epoch_{ref.key}",
                         help=tr("Which saved generator to explore: 0 is before any training."))
    gen = _load(str(ref.run.path), epoch)
    if gen is None:
        return None
    label, class_name = None, None
    if gen.has_codes:   # InfoGAN: G's label is its categorical code, which no one named
        if gen.num_classes:
            with top[1]:
                label = explore_codes.code_picker_ui(gen.num_classes)
    elif gen.num_classes:
        names = gen.class_names if len(gen.class_names) == gen.num_classes else [str(i) for i in range(gen.num_classes)]
        names = [glossary.class_name(n, lang()) for n in names]
        with top[1]:
            label = st.selectbox(tr("Class"), range(gen.num_classes), format_func=lambda i: str(names[i]),
                                 key="lx_class", help=tr("This run is conditional: ask it for one class."))
        class_name = names[label]
    return epoch, gen, label, class_name


def _noise_dims(gen) -> tuple[int, int]:
    """(first, count): the noise entries of z that get a slider (InfoGAN's continuous codes come
    first in z and have their own sliders)."""
    first = gen.cont_codes
    return first, min(SLIDER_DIMS, gen.z_dim - first)


def _slider_values(gen, seed: int) -> list[float]:
    first, k = _noise_dims(gen)
    z = latent.seed_latent(gen.z_dim, seed, gen.cont_codes)[first:first + k]
    return [round(float(v), 2) for v in z.clamp(-SLIDER_RANGE, SLIDER_RANGE)]


def _set_sliders(gen) -> None:
    ss = st.session_state
    for i, v in enumerate(_slider_values(gen, int(ss["lx_seed"]))):
        ss[f"lx_z{i}"] = v
    if gen.cont_codes:
        explore_codes.reset_state(gen.cont_codes, latent.seed_latent(gen.z_dim, int(ss["lx_seed"]), gen.cont_codes))


def _init_state(gen) -> None:
    """Session keys of this page, set in one place. Sliders follow the seed when the latent size
    changes (another run) or when Streamlit dropped them (the page was left and reopened)."""
    ss = st.session_state
    ss.setdefault("lx_seed", 0)
    _, k = _noise_dims(gen)
    shape = (gen.z_dim, gen.cont_codes)
    if (ss.get("lx_zdim") != shape or any(f"lx_z{i}" not in ss for i in range(k))
            or any(f"lx_cc{i}" not in ss for i in range(gen.cont_codes))):
        ss["lx_zdim"] = shape
        _set_sliders(gen)
    ss.setdefault("lx_ia", 1)
    ss.setdefault("lx_ib", 2)
    ss.setdefault("lx_steps", 8)
    ss.setdefault("lx_gbase", 100)
    for name, default in (("lx_a", [0]), ("lx_b", [1]), ("lx_c", [2])):
        ss.setdefault(name, default)


def _randomise(gen) -> None:
    ss = st.session_state
    ss["lx_seed"] = random.randrange(0, 100_000)
    _set_sliders(gen)


def _load(run_path: str, epoch: int) -> latent.LoadedGenerator | None:
    try:
        return latent.load_generator(Run(run_path), epoch)
    except (RunError, CheckpointError, ValueError) as e:
        st.error(tr("This snapshot cannot be opened: {error}", error=e))
        return None


def _png(images: np.ndarray, target_px: int) -> bytes:
    """uint8 [N, H, W, C] → one PNG row enlarged so each image is about ``target_px`` wide."""
    size = images.shape[2]
    row = latent.strip(images) if len(images) > 1 else images[0]
    return latent.png_fast(latent.upscale(row, latent.fit_factor(size, target_px)))


def _grid_png(images: np.ndarray, ncol: int, cell_px: int = 64) -> bytes:
    """uint8 [N, H, W, C] → one PNG grid of ``ncol`` columns, each image about ``cell_px`` wide."""
    grid = make_grid(images, ncol=ncol)
    return latent.png_fast(latent.upscale(grid, latent.fit_factor(images.shape[2], cell_px)))


@st.fragment
def sliders_ui(run_path: str, epoch: int, label: int | None) -> None:
    ss = st.session_state
    gen = _load(run_path, epoch)
    if gen is None:
        return
    z_dim = gen.z_dim
    first, k = _noise_dims(gen)
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    c1.number_input(tr("Seed"), 0, 1_000_000, step=1, key="lx_seed", on_change=_set_sliders, args=(gen,),
                    help=tr("Each seed is one random latent vector z; the sliders start at its values."))
    c2.button(tr("Randomise"), icon=":material/casino:", on_click=_randomise, args=(gen,), width="stretch",
              key="lx_random")
    c3.button(tr("Reset sliders"), icon=":material/undo:", on_click=_set_sliders, args=(gen,), width="stretch",
              key="lx_reset",
              help=tr("Put the sliders back to the seed's own values."))
    img_col, slider_col = st.columns([1, 1])
    with slider_col:
        codes = explore_codes.continuous_ui(gen.cont_codes) if gen.cont_codes else []
        if gen.has_codes:
            st.caption(tr("Noise: the generator's other inputs, which carry no code."))
        cols = st.columns(2)
        for i in range(k):
            # a select slider so the value shows as the page's language writes it (-1,13 in pt-BR)
            cols[i % 2].select_slider(f"z[{first + i}]", options=Z_VALUES, key=f"lx_z{i}",
                                      format_func=lambda v: num(v, decimals=2))
        rest = z_dim - first - k
        if rest > 0:
            st.caption(tr("The other {rest} of the {n} dimensions stay at the seed's values.", rest=rest,
                          n=z_dim - first))
    z = latent.seed_latent(z_dim, int(ss["lx_seed"]), gen.cont_codes)
    z[first:first + k] = torch.tensor([float(ss[f"lx_z{i}"]) for i in range(k)])
    if codes:
        z[:first] = torch.tensor(codes)
    img = latent.sample_images(gen, z, label)
    with img_col:
        st.image(_png(img, BIG_PX), caption=tr("G(z) at epoch {epoch}", epoch=epoch), output_format="PNG")
    if gen.has_codes:
        st.subheader(tr("Code sweep"))
        explore_codes.sweep_ui(gen, z, _grid_png)


@st.fragment
def interpolation_ui(run_path: str, epoch: int, label: int | None) -> None:
    ss = st.session_state
    gen = _load(run_path, epoch)
    if gen is None:
        return
    c1, c2, c3 = st.columns(3)
    c1.number_input(tr("From seed"), 0, 1_000_000, step=1, key="lx_ia")
    c2.number_input(tr("To seed"), 0, 1_000_000, step=1, key="lx_ib")
    c3.slider(tr("Steps"), 3, 12, key="lx_steps")
    z0 = latent.seed_latent(gen.z_dim, ss["lx_ia"], gen.cont_codes)
    z1 = latent.seed_latent(gen.z_dim, ss["lx_ib"], gen.cont_codes)
    steps = int(ss["lx_steps"])
    cell = max(48, min(96, 900 // steps))
    norms = {}
    for mode, title in (("linear", tr("Straight line (linear)")), ("slerp", tr("Great circle (spherical)"))):
        path = latent.interpolate(z0, z1, steps, mode)                       # [steps, z_dim]
        norms[mode] = float(path[steps // 2].norm())
        st.image(_png(latent.sample_images(gen, path, label), cell), caption=title, output_format="PNG")
    st.caption(tr("Length of z halfway: linear {linear}, spherical {spherical}. Random z of {n} dimensions "
                  "have a length near √{n} ≈ {root}, so the straight line passes through shorter z than G "
                  "ever saw while training; the great circle keeps the length.",
                  linear=num(norms["linear"], decimals=1), spherical=num(norms["slerp"], decimals=1),
                  n=gen.z_dim, root=num(float(np.sqrt(gen.z_dim)), decimals=1)))


@st.fragment
def arithmetic_ui(run_path: str, epoch: int, label: int | None) -> None:
    ss = st.session_state
    gen = _load(run_path, epoch)
    if gen is None:
        return
    st.number_input(tr("Gallery seed"), 0, 1_000_000, step=1, key="lx_gbase",
                    help=tr("Changes the 12 samples below."))
    seeds = [int(ss["lx_gbase"]) + i for i in range(GALLERY)]
    zs = latent.seed_latents(gen.z_dim, seeds, gen.cont_codes)                # [12, z_dim]
    images = latent.sample_images(gen, zs, label)
    cell = latent.fit_factor(images.shape[2], 140)
    for start in range(0, GALLERY, GALLERY // 2):                            # two rows of six
        for i, col in zip(range(start, start + GALLERY // 2), st.columns(GALLERY // 2)):
            col.image(latent.png_fast(latent.upscale(images[i], cell)), caption=f"#{i}", width="stretch",
                      output_format="PNG")
    options = list(range(GALLERY))
    picks = {}
    cols = st.columns(3)
    for col, (name, title) in zip(cols, (("lx_a", "a"), ("lx_b", tr("minus b")), ("lx_c", tr("plus c")))):
        picks[name] = col.multiselect(title, options, key=name, max_selections=3,
                                      format_func=lambda i: f"#{i}")
    if not all(picks.values()):
        st.caption(tr("Pick at least one sample for each of a, b and c."))
        return
    terms = [zs[picks[n]] for n in ("lx_a", "lx_b", "lx_c")]                 # each [k, z_dim]
    result = latent.arithmetic(*terms)                                        # [z_dim]
    row = latent.sample_images(gen, torch.stack([t.mean(0) for t in terms] + [result]), label)
    big = latent.fit_factor(row.shape[2], 120)
    eq = st.columns([3, 1, 3, 1, 3, 1, 3], vertical_alignment="center")
    for i, (col, op) in enumerate(zip(eq[0::2], ("a", "b", "c", "a − b + c"))):
        col.image(latent.png_fast(latent.upscale(row[i], big)), caption=op, output_format="PNG")
    for col, sign in zip(eq[1::2], ("−", "+", "=")):
        col.markdown(f"<div style='text-align:center;font-size:2rem'>{sign}</div>", unsafe_allow_html=True)


ENCODE_GALLERY = 12     # real images to pick from in "find this image"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _uploaded_image(gen, uploaded):
    """The uploaded file as uint8 [H, W, C] of the run's shape, or None after a message."""
    data = uploaded.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:
        st.error(tr("{name} is larger than {mb} MB; use a smaller picture.", name=uploaded.name,
                    mb=MAX_UPLOAD_BYTES // (1024 * 1024)))
        return None
    try:
        return latent.decode_upload(gen, data, uploaded.name)
    except ValueError as e:
        st.error(shown(e.args[0] if e.args else str(e)))
        return None


@st.fragment
def encoder_ui(run: Run, run_path: str, epoch: int) -> None:
    """BiGAN: a real or uploaded image x beside G(E(x)), and a walk between two real images' codes."""
    ss = st.session_state
    gen = _load(run_path, epoch)
    if gen is None or gen.E is None:
        return
    try:
        real = latent.real_gallery(run, ENCODE_GALLERY)
    except (DataError, RunError, ValueError, OSError) as e:
        real = np.zeros((0, 1, 1, 1), dtype=np.uint8)
        st.caption(tr("Real images are not available here: {error}", error=e))
    options = list(range(len(real)))
    ss.setdefault("lx_enc_pick", 0)
    ss.setdefault("lx_enc_a", 0)
    ss.setdefault("lx_enc_b", min(1, max(0, len(real) - 1)))
    ss.setdefault("lx_enc_steps", 8)
    if len(real):
        cell = latent.fit_factor(real.shape[2], 60)
        st.image(latent.png_fast(latent.upscale(latent.strip(real), cell)),
                 caption=tr("Real images #0 to #{last}, from the run's training data", last=len(real) - 1),
                 output_format="PNG")
    pick_col, up_col = st.columns(2)
    if options:
        if ss["lx_enc_pick"] not in options:
            ss["lx_enc_pick"] = 0
        pick_col.selectbox(tr("Real image"), options, key="lx_enc_pick", format_func=lambda i: f"#{i}")
    uploaded = up_col.file_uploader(tr("Or upload an image (PNG or JPEG)"), type=["png", "jpg", "jpeg"],
                                    key="lx_enc_upload",
                                    help=tr("It is cut to a centred square, resized to the run's size and, for a "
                                            "grey run, made grey."))
    x = None
    if uploaded is not None:
        x = _uploaded_image(gen, uploaded)
    elif options:
        x = real[int(ss["lx_enc_pick"])]
    if x is not None:
        back = latent.reconstruct(gen, x[None])[0]
        big = latent.fit_factor(x.shape[0], 160)
        c1, c2, _ = st.columns([1, 1, 2])
        c1.image(latent.png_fast(latent.upscale(x, big)), caption=tr("x (the image)"), output_format="PNG")
        c2.image(latent.png_fast(latent.upscale(back, big)), caption=tr("G(E(x)) at epoch {epoch}", epoch=epoch),
                 output_format="PNG")
    if len(options) < 2:
        return
    st.markdown(tr("**Between two real images.** The walk goes in a straight line from E(a) to E(b); G draws "
                   "each step."))
    for key in ("lx_enc_a", "lx_enc_b"):
        if ss[key] not in options:
            ss[key] = 0
    c1, c2, c3 = st.columns(3)
    c1.selectbox(tr("From real image"), options, key="lx_enc_a", format_func=lambda i: f"#{i}")
    c2.selectbox(tr("To real image"), options, key="lx_enc_b", format_func=lambda i: f"#{i}")
    c3.slider(tr("Steps"), 3, 12, key="lx_enc_steps")
    a, b = real[int(ss["lx_enc_a"])], real[int(ss["lx_enc_b"])]
    za, zb = latent.encode_images(gen, np.stack([a, b]))
    steps = int(ss["lx_enc_steps"])
    walk = latent.sample_images(gen, latent.interpolate(za, zb, steps, "linear"))     # [steps, H, W, C]
    row = np.concatenate([a[None], walk, b[None]])
    cell = max(48, min(96, 900 // (steps + 2)))
    st.image(_png(row, cell), caption=tr("a, then G along the way from E(a) to E(b), then b"), output_format="PNG")


def real_images_ui(run: Run, label: int | None, class_name: str | None) -> None:
    try:
        real = latent.real_examples(run, 8, label)
    except (DataError, RunError, ValueError, OSError) as e:
        st.caption(tr("Real images are not available here: {error}", error=e))
        return
    if len(real) == 0:
        st.caption(tr("No real examples of this class were found in the data."))
        return
    grid = make_grid(real, ncol=2)                                            # 4 rows of 2
    # a class name comes from the data (a folder name in an uploaded zip): escaped by tr
    caption = (tr("Real images of class “{name}”", name=class_name) if class_name
               else tr("Real images from the training data"))
    st.image(latent.png_fast(latent.upscale(grid, latent.fit_factor(real.shape[2], 80))),
             caption=caption, output_format="PNG")


if __name__ == "__main__":
    main()
