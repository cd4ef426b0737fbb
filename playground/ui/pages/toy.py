"""The 2D toy view (like GAN Lab): real points, generated points, the discriminator's decision
surface and the generator's push on each point, per saved epoch. Inference only, on the server."""

from __future__ import annotations

import streamlit as st
import torch

from playground import latent
from playground.checkpoint import CheckpointError
from playground import quality
from playground.data import toy_modes
from playground.runs import Run, RunError
from playground.ui.common import all_runs
from playground.ui.explore_figures import coverage_figure, toy_figure, view_extent
from playground.ui.explore_widgets import TRAIN_PAGE, epoch_ui, is_toy, link_or_text, picker_ui
from playground.ui import glossary, layout
from playground.ui.i18n import lang, num, tr, tx

PLANE_PX = 470         # the plane's height: whole on a 1366x768 screen under the page's header
ARROW_POINTS = 128     # arrows drawn (of the 512 fixed-noise points): enough to see the flow
ARROW_SHARE = 0.12     # the longest arrow, as a share of the half-width in view
SURFACE_CELLS = 96     # D is evaluated on this many points per side of the view


def main() -> None:
    intro_ui()
    toys = [r for r in all_runs() if is_toy(r)]
    if not toys:
        no_toys_ui()
        return
    ref = picker_ui(tr("Toy run"), toys, param="run")
    run = ref.run
    try:
        cfg = run.read_config()
    except (RunError, ValueError) as e:
        st.error(tr("This run cannot be read: {error}", error=e))
        return
    epochs = latent.toy_epochs(run)
    if not epochs:
        st.info(tr("This run has not saved a plot yet: the first appears as soon as training starts."))
        return
    # the plane starts right under the picker and its controls stand beside it, so a 1366x768
    # screen shows the whole plane without scrolling
    plane, side = st.columns([3, 2], gap="large")
    with side:
        epoch, label, names, show_arrows = controls_ui(ref, cfg, epochs)
    try:
        v = _view(run, epoch, label, show_arrows)
    except (RunError, CheckpointError, ValueError) as e:
        st.error(tr("This epoch cannot be shown: {error}", error=e))
        return
    prob = cfg.objective in ("bce", "minimax")
    with plane:
        plane_ui(v, prob, label, names)
    with side:
        legend_ui(cfg.objective, prob)
        coverage_ui(run, cfg, epochs, epoch)
        st.markdown(tr("**Mode collapse** looks like this: the magenta points gather on one or a few of the "
                       "green clusters and leave the others empty, or hop from cluster to cluster as you "
                       "scrub the epochs. A healthy run spreads its points over every cluster."))


def intro_ui() -> None:
    st.title(tr("2D toy view"))
    st.markdown(tr("Here the data are not images but points in a plane, so you can see everything a GAN "
                   "does at once: where the real data lie, where the generator puts its points, what the "
                   "discriminator believes, and how the generator is being pushed."))


def no_toys_ui() -> None:
    st.info(tr("No 2D toy runs yet: start the 'ring-collapse' preset on the Train page (it takes a "
               "minute or two on a CPU), or 'ring-healthy' to see a healthy run."))
    link_or_text(TRAIN_PAGE, tr("Go to the Train page"),
                 text=tr("Open the **Train** page in the menu."))


def controls_ui(ref, cfg, epochs: list[int]):
    """The epoch, the class (a conditional run) and whether to draw the arrows: (epoch, class index or
    None, the class names, arrows on)."""
    epoch = epoch_ui(tr("Epoch"), epochs, key=f"toy_epoch_{ref.key}",
                     help=tr("Each saved epoch; 0 is before any training."))
    label = None
    doc = ref.run.read_config_doc()
    names = [glossary.class_name(n, lang()) for n in (doc.get("data") or {}).get("class_names") or []]
    c2, c3 = st.columns([2, 1], vertical_alignment="bottom")
    if cfg.conditional and names:
        with c2:
            label = st.selectbox(tr("Class"), range(len(names)), format_func=lambda i: str(names[i]),
                                 key="toy_class",
                                 help=tr("A conditional run: D's view and G's points for one class."))
    with c3:
        show_arrows = st.toggle(tr("Arrows"), value=True, key="toy_arrows")
    return epoch, label, names, show_arrows


def plane_ui(v: dict, prob: bool, label: int | None, names: list[str]) -> None:
    """The plane: D's surface, the real and generated points, and the arrows."""
    st.plotly_chart(toy_figure(v["surface"], v["surface_extent"], v["real"], v["fake"], v["arrows"],
                               tx("D says real") if prob else tx("D's score (scaled)"), view=v["view"],
                               height=640 if layout.presenting() else PLANE_PX, lang=lang()),
                    key="toy_plane")
    if v["note"]:
        st.caption(v["note"])
    if label is not None:
        # a class name comes from the data (a folder name in an uploaded zip): escaped by tr
        st.caption(tr("D's view and the generated points are for the class “{name}”; the green "
                      "dots are real points of every class.", name=names[label]))


def legend_ui(objective: str, prob: bool) -> None:
    """What the colours, the dots and the arrows mean."""
    colours = tr("**Background**: what the discriminator believes about each place in the plane: "
                 "orange means “real data live here”, blue means “only fakes come here”.")
    if not prob:
        colours += " " + tr("With the {objective} objective D gives a score, not a probability, so the "
                            "colours run from its lowest score (blue) to its highest (orange) in this "
                            "picture.", objective=objective)
    st.markdown(colours + " " + tr("**Green dots** are real data, **magenta dots** the generator's points."))
    st.markdown(tr("**Arrows** show where the generator's next update pushes its points: along the slope "
                   "of the discriminator, uphill towards what D calls real. A long arrow is a strong push; "
                   "tiny arrows everywhere mean the generator gets almost no signal (D is saturated)."))


def coverage_ui(run: Run, cfg, epochs: list[int], epoch: int) -> None:
    """Clusters covered at the epoch shown, and over all epochs (datasets made of clusters only)."""
    modes = toy_modes(cfg.dataset)
    if modes is None:
        return
    newest = run.sample_path(epochs[-1], "npz").stat().st_mtime_ns
    cover = _coverage(str(run.path), tuple(epochs), newest, cfg.dataset)
    st.metric(tr("Clusters covered at this epoch"),
              tx("{covered} of {modes}", covered=cover[epochs.index(epoch)], modes=len(modes)),
              help=tr("A cluster counts as covered when at least {share} of its fair share of the "
                      "generated points lie within {stds} standard deviations of its centre.",
                      share=tx("{p}%", p=num(quality.MODE_SHARE * 100, significant=3)),
                      stds=num(float(quality.MODE_STDS), significant=3)))
    if len(epochs) > 1:
        st.plotly_chart(coverage_figure(epochs, cover, len(modes), epoch, lang=lang()), key="toy_cover")


@st.cache_data(max_entries=16, show_spinner=False)
def _coverage(run_path: str, epochs: tuple[int, ...], newest_mtime: int, dataset: str) -> list[int]:
    """Modes covered by the generated points of each epoch (the saved npz files, read once)."""
    run = Run(run_path)
    out = []
    for e in epochs:
        try:
            fake = torch.from_numpy(latent.toy_epoch_arrays(run, e)["fake"])
            out.append(quality.toy_quality(fake, dataset)["modes_covered"])
        except (RunError, KeyError):
            out.append(0)
    return out


def _view(run: Run, epoch: int, label: int | None, show_arrows: bool) -> dict:
    """What to draw for one epoch: from the snapshot when there is one (so arrows can be computed and
    D's surface drawn sharp over just the part of the plane in view), else from the saved arrays."""
    saved = latent.toy_epoch_arrays(run, epoch)
    extent = float(saved.get("extent", 5.0))
    real = saved.get("real")
    if epoch not in run.snapshot_epochs():
        fake = saved.get("fake")
        return dict(surface=saved.get("d_surface"), surface_extent=extent, real=real, fake=fake, arrows=None,
                    view=view_extent(extent, real, fake),
                    note=tr("No snapshot was kept for this epoch, so the arrows cannot be drawn."))
    gen = latent.load_generator(run, epoch)
    fake, push = latent.toy_field(gen, 512, label=label)
    view = view_extent(extent, real, fake)
    surface, _ = latent.decision_surface(gen, label, extent=view, n=SURFACE_CELLS)
    arrows = None
    if show_arrows:
        pick = slice(None, None, max(1, len(fake) // ARROW_POINTS))
        arrows = latent.arrow_segments(fake[pick], push[pick], ARROW_SHARE * view)
    return dict(surface=surface, surface_extent=view, real=real, fake=fake, arrows=arrows, view=view, note="")


if __name__ == "__main__":
    main()
