"""Watch: any run, live while it trains. The run is chosen in the URL (?run=runs/<id>), so a
refresh, a reopened tab or a second browser finds the same run; the run itself lives in its own
process and folder and never depends on this page being open."""

import streamlit as st

from playground.config import TOY_NAMES
from playground.runs import ACTIVE_STATES, RunError, effective_state
from playground.ui import explain, runinfo
from playground.ui.common import job_manager, run_picker
from playground.ui.watch_parts import POLL_S, controls, live_settings, live_view, player, scrub_epoch
from playground.ui.widgets import page_link, state_badge

ref = run_picker("Run to watch")
if ref is None:
    st.title("Watch a run")
    st.info("There are no runs yet. Start one on the Train page (the classroom preset shows "
            "recognisable clothes within a few minutes on a laptop).", icon=":material/info:")
    page_link("train", "Train a GAN", icon=":material/model_training:")
    st.stop()

run = ref.run
try:
    cfg = run.read_config()
except RunError as e:
    st.error(f"This run folder cannot be read: {e}")
    st.stop()
status = run.read_status()
state = effective_state(status)
if state == "queued" and not ref.readonly:
    job_manager().schedule()   # a slot may have freed up without a worker to hand it on

summary = runinfo.summarize(run)
st.header(summary.name, anchor=False)
st.caption(f"{summary.what} · {state_badge(state)} · {runinfo.STATE_EXPLAINED.get(state, '')}")
data_notes = ((run.read_config_doc().get("data") or {}).get("notes"))
if data_notes:
    st.caption(f"Data: {data_notes}")

if state == "failed":
    error = status.get("error") or status.get("message") or "no reason was recorded"
    st.error(f"Training failed: {error}", icon=":material/error:")
    st.info(f"What to try: {runinfo.failure_advice(error)}", icon=":material/lightbulb:")

if ref.readonly:
    st.caption("A pretrained run: read-only. Train your own on the Train page.")
else:
    controls(ref, state, status, cfg)
    if state in ("running", "paused"):
        live_settings(ref, status, cfg)

epochs = run.sample_epochs()
left, right = st.columns(2, gap="medium")
with right:
    st.markdown("#### Generated samples, epoch by epoch")
    selected = scrub_epoch(ref, epochs)
    if selected is None:
        st.info("The first grid (epoch 0, before any training) appears once the worker has "
                "loaded the data.")
    else:
        player(ref, epochs, selected)
    st.caption(explain.grid_caption(cfg.dataset in TOY_NAMES, cfg.conditional))
    if cfg.dataset in TOY_NAMES:
        page_link("toy", "Open the 2D toy view", ref.key, icon=":material/scatter_plot:")
    page_link("explore", "Explore this generator's latent space", ref.key, icon=":material/tune:")

with left:
    active = state in ACTIVE_STATES
    fragment = st.fragment(run_every=POLL_S if active else None)(live_view)
    fragment(ref, cfg, state, len(epochs), selected)
