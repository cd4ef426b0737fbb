"""Compare two runs side by side: the same fixed noise, one epoch scrubber, losses overlaid, and
their metrics in one table."""

from __future__ import annotations

import streamlit as st

from playground.runs import RunError
from playground.ui import compare_data as cd
from playground.ui import glossary, layout
from playground.ui.common import all_runs, run_picker
from playground.ui.explore_figures import overlay_figure
from playground.ui.explore_widgets import epoch_ui, no_runs_hint, show_png
from playground.i18n import stored_text
from playground.ui.i18n import lang, tr, tx
from playground.ui.runinfo import ARCH_NAMES
from playground.ui.widgets import grid_png

GRID_PX = 520   # grids are enlarged to about this width: big, yet the charts start on a 1080p screen


def main() -> None:
    intro_ui()
    refs = all_runs()
    if len(refs) < 2:
        too_few_runs_ui(refs)
        return
    ref_a, ref_b = pickers_ui(refs)
    if ref_a is None or ref_b is None:
        return
    if ref_a.key == ref_b.key:
        st.caption(tr("Both sides show the same run: pick another one for A or B."))
    try:
        cfg_a, cfg_b = ref_a.run.read_config(), ref_b.run.read_config()
    except (RunError, ValueError) as e:
        st.error(tr("One of these runs cannot be read: {error}", error=e))
        return
    noise_ui(cfg_a, cfg_b)
    ep_a, ep_b = ref_a.run.sample_epochs(), ref_b.run.sample_epochs()
    label_a, label_b = "A: " + _short(ref_a), "B: " + _short(ref_b)
    selected = grids_ui(ref_a, ref_b, ep_a, ep_b, label_a, label_b)
    sa, sb = _series(ref_a, "A"), _series(ref_b, "B")
    losses_ui(sa, sb, selected)
    metrics_ui(sa, sb, ep_a, ep_b, selected)


def intro_ui() -> None:
    st.title(tr("Compare two runs"))
    with layout.clutter():
        st.markdown(tr("Put two runs side by side, for example a fully connected **GAN** and a convolutional "
                       "**DCGAN** trained on the same images, and scrub through their epochs together to see "
                       "which one learns faster and which makes sharper samples."))


def too_few_runs_ui(refs) -> None:
    if refs:
        st.info(tr("Comparing needs two runs and there is only one so far. Start another on the Train "
                   "page, for example 'gan-fashion' next to 'classroom' (a DCGAN), on the same data."))
    else:
        no_runs_hint()


def pickers_ui(refs):
    """Runs A and B (kept in the URL as ?a= and ?b=)."""
    default_a, default_b = cd.default_pair(refs)
    # one above the other, each as wide as the page: side by side, long run names were cut
    with layout.clutter():   # out of sight in presentation mode, still choosing the runs
        ref_a = run_picker(tr("Run A"), param="a", default=default_a)
        ref_b = run_picker(tr("Run B"), param="b", default=default_b)
    return ref_a, ref_b


def noise_ui(cfg_a, cfg_b) -> None:
    """Whether both runs drew their grids from the same fixed noise, and whether they learn the same data."""
    same, note = cd.noise_note(cfg_a, cfg_b, lang())
    with layout.clutter() if same else st.container():   # a difference is never hidden
        (st.success if same else st.warning)(note)
    if cfg_a.dataset != cfg_b.dataset:
        st.caption(tr("Note: A learns {a} and B learns {b}.", a=cfg_a.dataset, b=cfg_b.dataset))


def grids_ui(ref_a, ref_b, ep_a: list[int], ep_b: list[int], label_a: str, label_b: str) -> int | None:
    """One epoch scrubber for both runs and their grids side by side; the epoch chosen (None: no grids yet)."""
    epochs, exact = cd.shared_epochs(ep_a, ep_b)
    if not epochs:
        st.info(tr("At least one of these runs has no sample grid yet: the first appears when its training "
                   "starts."))
        return None
    selected = epoch_ui(tr("Epoch (both runs)"), epochs, key=f"cmp_epoch_{ref_a.key}_{ref_b.key}",
                        help=tr("One scrubber for both runs: 0 is before any training."))
    if not exact:
        st.caption(tr("These runs saved grids at different epochs; each side shows its nearest one."))
    left, right = st.columns(2)
    for col, ref, saved, label in ((left, ref_a, ep_a, label_a), (right, ref_b, ep_b, label_b)):
        with col:
            e = cd.nearest(saved, selected)
            width = 2 * GRID_PX if layout.presenting() else GRID_PX   # a projector: as large as fits
            png = grid_png(ref.run.sample_path(e), width) if e is not None else None
            if png is None:
                st.caption(tr("{run}: no grid saved yet.", run=label))
                continue
            if e == selected:
                caption = tr("{run}, epoch {epoch}", run=label, epoch=e)
            else:
                caption = tr("{run}, epoch {epoch} (nearest to {wanted})", run=label, epoch=e, wanted=selected)
            # "stretch" in two equal columns: both grids the same size whatever their pixel
            # counts (the page's CSS keeps them within the screen's height)
            with st.container(key=f"cmp_grid_{label[0]}"):
                show_png(png, caption=caption, width="stretch")
    return selected


def losses_ui(sa: dict, sb: dict, selected: int | None) -> None:
    st.subheader(tr("Losses"))
    st.caption(tr("Solid: the discriminator's loss; dashed: the generator's. Thin lines follow every logged "
                  "step (smoothed), dots are epoch means. In a healthy GAN neither loss runs away to zero "
                  "or keeps climbing: the two push against each other and level off."))
    tab_loss, tab_d = st.tabs([tr("D and G loss"), tr("D's outputs")])
    with tab_loss:
        st.plotly_chart(overlay_figure([sa, sb], ("loss_d", "loss_g"), (tx("D loss"), tx("G loss")), selected,
                                       tx("loss"), lang=lang()), key="cmp_loss")
    with tab_d:
        st.caption(tr("D(x) is how real the discriminator finds real images, D(G(z)) how real it finds "
                      "fakes (0 to 1). When G fools D perfectly both sit at 0.5 (dotted). Runs with a critic "
                      "score (WGAN-GP, hinge) have no probability to show here."))
        st.plotly_chart(overlay_figure([sa, sb], ("d_real", "d_fake"), ("D(x)", "D(G(z))"), selected,
                                       tx("D's output"), hline=0.5, lang=lang()), key="cmp_dout")


def metrics_ui(sa: dict, sb: dict, ep_a: list[int], ep_b: list[int], selected: int | None) -> None:
    """Both runs' metrics at the epoch shown and at their last epoch, in one table."""
    fid = glossary.TERMS["fid"]
    st.subheader(tr("Metrics"), help=tr(fid))
    last_a, last_b = max(sa["epochs"], default=None), max(sb["epochs"], default=None)
    columns = {}
    if selected is not None:
        ea, eb = cd.nearest(ep_a, selected), cd.nearest(ep_b, selected)
        columns[tx("A at epoch {epoch}", epoch=ea)] = sa["epochs"].get(ea)
        columns[tx("B at epoch {epoch}", epoch=eb)] = sb["epochs"].get(eb)
    # a final column only when it is not the epoch shown already (no column twice)
    if last_a is not None and (selected is None or cd.nearest(ep_a, selected) != last_a):
        columns[tx("A final (epoch {epoch})", epoch=last_a)] = sa["epochs"][last_a]
    if last_b is not None and (selected is None or cd.nearest(ep_b, selected) != last_b):
        columns[tx("B final (epoch {epoch})", epoch=last_b)] = sb["epochs"][last_b]
    rows = cd.metrics_table(columns, lang())
    if rows:
        st.table(rows, hide_index=True)   # every row on the page, none hidden in a scroll box
        st.caption(tr("Losses and D's outputs are means over each epoch's steps; epoch 0 (before any "
                      "training) has none. Speeds depend on the machine each run trained on."))
    else:
        st.caption(tr("No finished epoch yet in either run."))


def _short(ref) -> str:
    try:
        cfg = ref.run.read_config()
    except (RunError, ValueError):
        return ref.run.id
    arch = tx(ARCH_NAMES.get(cfg.arch, cfg.arch))
    name = stored_text(cfg.name, lang()) if cfg.name else (cfg.preset or ref.run.id)
    return f"{name} ({arch})"


def _series(ref, label: str) -> dict:
    epochs = cd.epoch_records(ref.run)
    spe = cd.steps_per_epoch(ref.run, epochs)
    steps = [(r["step"] / spe, r) for r in cd.step_records(ref.run)
             if spe and isinstance(r.get("step"), (int, float))]
    return {"label": label, "epochs": epochs, "steps": steps}


if __name__ == "__main__":
    main()
