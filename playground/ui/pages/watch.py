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

with layout.clutter():
    ref = run_picker(tr("Run to watch"), remember=True)
if ref is None:
    st.title(tr("Watch a run"))
    st.info(tr("There are no runs yet. Start one on the Train page (the classroom preset shows "
               "recognisable clothes within a few minutes on a laptop)."), icon=":material/info:")
    page_link("train", tr("Train a GAN"), icon=":material/model_training:")
    st.stop()

run = ref.run
try:
    cfg = run.read_config()
except RunError as e:
    st.error(tr("This run folder cannot be read: {error}", error=e))
    st.stop()
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
    st.markdown("#### " + tr("Generated samples, epoch by epoch"))
    selected = scrub_epoch(ref, epochs)
    if selected is None:
        st.info(tr("The first grid (epoch 0, before any training) appears once the worker has "
                   "loaded the data."))
    else:
        player(ref, epochs, selected, present)
    with layout.clutter():
        st.caption(explain.grid_caption(cfg.dataset in TOY_NAMES, cfg.conditional, tr))
        if cfg.dataset in TOY_NAMES:
            page_link("toy", tr("Open the 2D toy view"), ref.key, icon=":material/scatter_plot:")
        page_link("explore", tr("Explore this generator's latent space"), ref.key, icon=":material/tune:")

with left:
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

    if state == "failed":
        error = status.get("error") or status.get("message") or ""
        reason = shown(status.get("error_id") or error) if error else tr("no reason was recorded")
        st.error(tr("Training failed: {error}", error=reason), icon=":material/error:")
        st.info(tr("What to try: {advice}", advice=tr(runinfo.failure_advice(error))), icon=":material/lightbulb:")

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

    active = state in ACTIVE_STATES
    fragment = st.fragment(run_every=POLL_S if active else None)(live_view)
    fragment(ref, cfg, state, len(epochs), selected)
