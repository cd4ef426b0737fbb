"""Runs: every run in a table; rename, download (generator checkpoint, grids) or delete one."""

import streamlit as st

from playground.ui import exports, runinfo
from playground.i18n import format_datetime
from playground.ui.common import all_runs, run_picker
from playground.ui.i18n import esc, lang, shown, tr, trn, tx
from playground.ui.widgets import page_link

st.title(tr("Runs"))
flash = st.session_state.pop("_runs_flash", None)
if flash:
    st.success(flash)   # built with tr below: the name in it is escaped

refs = all_runs()
if not refs:
    st.info(tr("No runs yet. Every training you start appears here, with its settings, samples and "
               "checkpoints."), icon=":material/info:")
    page_link("train", tr("Train a GAN"), icon=":material/model_training:")
    st.stop()

summaries = {r.key: runinfo.summarize(r.run, with_size=True, lang=lang()) for r in refs}
L = lang()
# a table shows plain text: names from label.json are never interpreted there
# A static table that wraps long names: a scrolling grid of ten columns hid the right-hand ones
# at 1366 px. Architecture, objective and data share one column ("what"), as on the run cards.
# st.table reads its cells as Markdown: a name a person gave is escaped, so it stays text.
rows = [{tx("Name"): esc(s.name), tx("Kind"): tx("pretrained") if r.readonly else tx("yours"),
         tx("State"): runinfo.state_name(s.state, L), tx("What"): s.what_in(L),
         tx("Epochs"): f"{s.epoch}/{s.epochs}", tx("Started"): format_datetime(s.started, L) if s.started else "–",
         tx("Size"): runinfo.human_size(s.size_bytes, L)}
        for r, s in ((r, summaries[r.key]) for r in refs)]
st.table(rows, hide_index=True)
st.caption(trn("{n} run, {size} on disk.", "{n} runs, {size} on disk.", len(refs),
               size=runinfo.human_size(sum(s.size_bytes for s in summaries.values()), L)))

st.subheader(tr("Manage a run"))
ref = run_picker(tr("Run"))
run, s = ref.run, summaries.get(ref.key) or runinfo.summarize(ref.run, with_size=True, lang=lang())
page_link("watch", tr("Watch this run"), ref.key, icon=":material/monitoring:")

left, right = st.columns(2, gap="large")
with left:
    st.markdown("**" + tr("Download") + "**")
    snap = exports.newest_snapshot_files(run)
    if snap:
        tensors, meta = snap
        st.download_button(tr("Generator weights (.safetensors)"), lambda: tensors.read_bytes(),
                           file_name=f"{run.id}_{tensors.name}", mime="application/octet-stream",
                           on_click="ignore", icon=":material/download:", key=f"dl_w::{ref.key}")
        st.download_button(tr("Model description (.json)"), lambda: meta.read_bytes(),
                           file_name=f"{run.id}_{meta.name}", mime="application/json",
                           on_click="ignore", icon=":material/download:", key=f"dl_m::{ref.key}")
        st.caption(tr("The newest generator snapshot ({file}): weights in safetensors format plus the "
                      "JSON that describes the model to rebuild it.", file=tensors.name))
    else:
        st.caption(tr("No generator snapshot yet: one is saved at epoch 0 once training starts."))
    if run.sample_epochs():
        st.download_button(tr("All sample grids (.zip)"), lambda: exports.grids_zip(run),
                           file_name=tx("{run}_grids.zip", run=run.id), mime="application/zip", on_click="ignore",
                           icon=":material/photo_library:", key=f"dl_g::{ref.key}")

with right:
    if ref.readonly:
        st.caption(tr("Pretrained runs ship with the app: they cannot be renamed or deleted here."))
    else:
        st.markdown("**" + tr("Rename") + "**")
        with st.form(f"rename::{ref.key}", border=False):
            new_name = st.text_input(tr("Name"), value=s.name, max_chars=runinfo.MAX_LABEL,
                                     help=tr("Shown as plain text everywhere: Markdown and HTML are not "
                                             "interpreted."))
            if st.form_submit_button(tr("Save name")):
                try:
                    saved = runinfo.write_label(run, new_name)
                except (ValueError, OSError) as e:
                    st.error(tr("Could not rename: {error}", error=shown(e.args[0] if e.args else str(e))))
                else:
                    st.session_state["_runs_flash"] = tr("Renamed to “{name}”.", name=saved)
                    st.rerun()
        st.markdown("**" + tr("Delete") + "**")
        if s.active:
            st.caption(tr("This run is {state}: stop it on the Watch page before deleting it.",
                          state=runinfo.state_name(s.state, L)))
        else:
            size = runinfo.human_size(s.size_bytes, L)
            sure = st.checkbox(tr("Yes, delete “{name}” and everything in it ({size})", name=s.name, size=size),
                               key=f"del_ok::{ref.key}")
            if st.button(tr("Delete run"), icon=":material/delete:", disabled=not sure, key=f"del::{ref.key}"):
                if run.state() in ("queued", "running", "paused"):
                    st.error(tr("The run started again in the meantime; stop it first."))
                else:
                    run.delete()
                    st.query_params.pop("run", None)
                    st.session_state["_runs_flash"] = tr("Deleted “{name}”.", name=s.name)
                    st.rerun()
