"""Runs: every run in a table; rename, download (generator checkpoint, grids) or delete one."""

import streamlit as st

from playground.ui import exports, runinfo
from playground.ui.common import all_runs, run_picker
from playground.ui.widgets import page_link

st.title("Runs")
flash = st.session_state.pop("_runs_flash", None)
if flash:
    st.success(flash)

refs = all_runs()
if not refs:
    st.info("No runs yet. Every training you start appears here, with its settings, samples and "
            "checkpoints.", icon=":material/info:")
    page_link("train", "Train a GAN", icon=":material/model_training:")
    st.stop()

summaries = {r.key: runinfo.summarize(r.run, with_size=True) for r in refs}
rows = [{"Name": s.name, "Kind": "pretrained" if r.readonly else "yours", "State": s.state,
         "Dataset": s.dataset, "Architecture": runinfo.ARCH_NAMES.get(s.arch, s.arch),
         "Objective": runinfo.OBJECTIVE_NAMES.get(s.objective, s.objective),
         "Epochs": f"{s.epoch}/{s.epochs}", "Size": runinfo.human_size(s.size_bytes),
         "Folder": r.key} for r, s in ((r, summaries[r.key]) for r in refs)]
st.dataframe(rows, hide_index=True, width="stretch")
st.caption(f"{len(refs)} run{'s' if len(refs) != 1 else ''}, "
           f"{runinfo.human_size(sum(s.size_bytes for s in summaries.values()))} on disk.")

st.subheader("Manage a run")
ref = run_picker("Run")
run, s = ref.run, summaries.get(ref.key) or runinfo.summarize(ref.run, with_size=True)
page_link("watch", "Watch this run", ref.key, icon=":material/monitoring:")

left, right = st.columns(2, gap="large")
with left:
    st.markdown("**Download**")
    snap = exports.newest_snapshot_files(run)
    if snap:
        tensors, meta = snap
        st.download_button("Generator weights (.safetensors)", lambda: tensors.read_bytes(),
                           file_name=f"{run.id}_{tensors.name}", mime="application/octet-stream",
                           on_click="ignore", icon=":material/download:", key=f"dl_w::{ref.key}")
        st.download_button("Model description (.json)", lambda: meta.read_bytes(),
                           file_name=f"{run.id}_{meta.name}", mime="application/json",
                           on_click="ignore", icon=":material/download:", key=f"dl_m::{ref.key}")
        st.caption(f"The newest generator snapshot ({tensors.stem.replace('_', ' ')}): weights in "
                   "safetensors format plus the JSON that describes the model to rebuild it.")
    else:
        st.caption("No generator snapshot yet: one is saved at epoch 0 once training starts.")
    if run.sample_epochs():
        st.download_button("All sample grids (.zip)", lambda: exports.grids_zip(run),
                           file_name=f"{run.id}_grids.zip", mime="application/zip", on_click="ignore",
                           icon=":material/photo_library:", key=f"dl_g::{ref.key}")

with right:
    if ref.readonly:
        st.caption("Pretrained runs ship with the app: they cannot be renamed or deleted here.")
    else:
        st.markdown("**Rename**")
        with st.form(f"rename::{ref.key}", border=False):
            new_name = st.text_input("Name", value=s.name, max_chars=runinfo.MAX_LABEL)
            if st.form_submit_button("Save name"):
                try:
                    saved = runinfo.write_label(run, new_name)
                except (ValueError, OSError) as e:
                    st.error(f"Could not rename: {e}")
                else:
                    st.session_state["_runs_flash"] = f"Renamed to “{saved}”."
                    st.rerun()
        st.markdown("**Delete**")
        if s.active:
            st.caption(f"This run is {s.state}: stop it on the Watch page before deleting it.")
        else:
            size = runinfo.human_size(s.size_bytes)
            sure = st.checkbox(f"Yes, delete “{s.name}” and everything in it ({size})", key=f"del_ok::{ref.key}")
            if st.button("Delete run", icon=":material/delete:", disabled=not sure, key=f"del::{ref.key}"):
                if run.state() in ("queued", "running", "paused"):
                    st.error("The run started again in the meantime; stop it first.")
                else:
                    run.delete()
                    st.query_params.pop("run", None)
                    st.session_state["_runs_flash"] = f"Deleted “{s.name}”."
                    st.rerun()
