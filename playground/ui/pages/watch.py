"""Watch: any run, live while it trains. The run is chosen in the URL (?run=runs/<id>), so a
refresh, a reopened tab or a second browser finds the same run; the run itself lives in its own
process and folder and never depends on this page being open."""

import streamlit as st

from playground.config import TOY_NAMES
from playground.runs import ACTIVE_STATES, RunError, effective_state
from playground.ui import explain, glossary, layout, runinfo
from playground.ui.common import job_manager, run_picker
from playground.ui.watch_parts import (POLL_S, controls, live_settings, live_view, new_run_button, player,
                                      scrub_epoch)
from playground.ui.i18n import esc, lang, shown, tr
from playground.ui.widgets import page_link, state_badge


def main() -> None:
    ref = picker_ui()
    if ref is None:
        no_runs_ui()
        return
    run = ref.run
    try:
        cfg = run.read_config()
    except RunError as e:
        st.error(tr("This run folder cannot be read: {error}", error=e))
        return
    status = run.read_status()
    state = effective_state(status)
    if state == "queued" and not ref.readonly:
        job_manager().schedule()   # a slot may have freed up without a worker to hand it on

    summary = runinfo.summarize(run, lang=lang())
    present = layout.presenting()
    epochs = run.sample_epochs()
    # Two columns from the top: the newest grid starts right under the picker, so at 1920×1080 the
    # progress line, the loss chart and the whole grid are on the first screen (the CSS in
    # layout.py keeps the grid within the screen's height).
    left, right = st.columns([5, 6] if present else [1, 1], gap="medium")
    with right:
        selected = samples_ui(ref, cfg, epochs, present)
    with left:
        about_ui(ref, cfg, summary, state)
        if state == "failed":
            failure_ui(status)
        controls_ui(ref, cfg, state, status)
        live_ui(ref, cfg, state, epochs, selected)


def picker_ui():
    with layout.clutter():
        return run_picker(tr("Run to watch"), remember=True)


def no_runs_ui() -> None:
    st.title(tr("Watch a run"))
    st.info(tr("There are no runs yet. Start one on the Train page (the classroom preset shows "
               "recognisable clothes within a few minutes on a laptop)."), icon=":material/info:")
    page_link("train", tr("Train a GAN"), icon=":material/model_training:")


def samples_ui(ref, cfg, epochs: list[int], present: bool) -> int | None:
    """The sample grid of the epoch chosen on its scrubber (returned), and links to look closer."""
    st.markdown("#### " + tr("Generated samples, epoch by epoch"))
    selected = scrub_epoch(ref, epochs)
    if selected is None:
        st.info(tr("The first grid (epoch 0, before any training) appears once the worker has "
                   "loaded the data."))
    else:
        player(ref, epochs, selected, present)
    with layout.clutter():
        st.caption(explain.grid_caption(cfg.dataset in TOY_NAMES, grid_rows_of(ref.run, cfg), tr))
        if cfg.dataset in TOY_NAMES:
            page_link("toy", tr("Open the 2D toy view"), ref.key, icon=":material/scatter_plot:")
        page_link("explore", tr("Explore this generator's latent space"), ref.key, icon=":material/tune:")
    return selected


def grid_rows_of(run, cfg) -> str:
    """"class", "code" (InfoGAN) or "": what the rows of the run's grid are."""
    try:
        model = run.read_config_doc().get("model")
    except (RunError, ValueError, OSError):
        model = None
    return explain.grid_rows(model, cfg.conditional)


def about_ui(ref, cfg, summary, state: str) -> None:
    """The run's name, what it is, its state, and notes on its data."""
    run = ref.run
    st.subheader(esc(summary.name), anchor=False)   # a name a person gave: text, never Markdown
    explained = runinfo.STATE_EXPLAINED.get(state)
    st.caption(f"{esc(summary.what_in(lang()))} · {state_badge(state)}" + (f" · {tr(explained)}" if explained else ""),
               help=tr(glossary.objective_help(cfg.objective)) if glossary.objective_help(cfg.objective) else None)
    data_doc = run.read_config_doc().get("data") or {}
    data_notes = data_doc.get("notes")
    if data_notes:
        # the notes as message ids when the run stored them (in today's language), else as stored
        notes_id = data_doc.get("notes_id")
        stored = {"join": notes_id, "sep": " "} if isinstance(notes_id, list) and notes_id else data_notes
        with layout.clutter():
            st.caption(tr("Data: {notes}", notes=shown(stored, fallback=str(data_notes))))


def failure_ui(status: dict) -> None:
    error = status.get("error") or status.get("message") or ""
    reason = shown(status.get("error_id") or error) if error else tr("no reason was recorded")
    st.error(tr("Training failed: {error}", error=reason), icon=":material/error:")
    st.info(tr("What to try: {advice}", advice=tr(runinfo.failure_advice(error))), icon=":material/lightbulb:")


def controls_ui(ref, cfg, state: str, status: dict) -> None:
    """Pause, stop, a new run from these settings, and the settings a running run takes live."""
    with layout.clutter():
        if ref.readonly:
            st.caption(tr("A pretrained run: read-only. Train your own on the Train page."))
            new_run_button(ref, cfg)
        else:
            controls(ref, state, status, cfg)
            if state in ("finished", "stopped", "failed", "interrupted"):
                new_run_button(ref, cfg)
            if state in ("running", "paused"):
                live_settings(ref, status, cfg)


def live_ui(ref, cfg, state: str, epochs: list[int], selected: int | None) -> None:
    """Progress, warnings, both charts and the log, redrawn every POLL_S seconds while the run is
    active."""
    active = state in ACTIVE_STATES
    fragment = st.fragment(run_every=POLL_S if active else None)(live_view)
    fragment(ref, cfg, state, len(epochs), selected)


if __name__ == "__main__":
    main()
