"""Runs: every run in a table; rename, download (generator checkpoint, grids) or delete one."""

import streamlit as st

from playground.ui import exports, runinfo
from playground.i18n import format_datetime
from playground.ui.common import all_runs, run_picker
from playground.ui.i18n import esc, lang, shown, tr, trn, tx
from playground.ui.widgets import page_link

FLASH = "_runs_flash"   # a message for the next run of the page (after a rename or a delete)


def main() -> None:
    st.title(tr("Runs"))
    flash_ui()
    refs = all_runs()
    if not refs:
        no_runs_ui()
        return
    summaries = {r.key: runinfo.summarize(r.run, with_size=True, lang=lang()) for r in refs}
    L = lang()
    table_ui(refs, summaries, L)
    ref = manage_picker_ui()
    s = summaries.get(ref.key) or runinfo.summarize(ref.run, with_size=True, lang=lang())
    left, right = st.columns(2, gap="large")
    with left:
        downloads_ui(ref)
    with right:
        if ref.readonly:
            st.caption(tr("Pretrained runs ship with the app: they cannot be renamed or deleted here."))
        else:
            rename_ui(ref, s)
            delete_ui(ref, s, L)


def flash_ui() -> None:
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)   # built with tr below: the name in it is escaped


def no_runs_ui() -> None:
    st.info(tr("No runs yet. Every training you start appears here, with its settings, samples and "
               "checkpoints."), icon=":material/info:")
    page_link("train", tr("Train a GAN"), icon=":material/model_training:")


def table_ui(refs, summaries: dict, L: str) -> None:
    """Every run in one table, and their count and size on disk below it."""
    # a table shows plain text: names from label.json are never interpreted there
    # A static table that wraps long names: a scrolling grid of ten columns hid the right-hand ones
    # at 1366 px. Architecture, objective and data share one column ("what"), as on the run cards.
    # st.table reads its cells as Markdown: a name a person gave is escaped, so it stays text.
    rows = [{tx("Name"): esc(s.name), tx("Kind"): tx("pretrained") if r.readonly else tx("yours"),
             tx("State"): runinfo.state_name(s.state, L), tx("What"): s.what_in(L),
             tx("Epochs"): f"{s.epoch}/{s.epochs}",
             tx("Started"): format_datetime(s.started, L) if s.started else "–",
             tx("Size"): runinfo.human_size(s.size_bytes, L)}
            for r, s in ((r, summaries[r.key]) for r in refs)]
    st.table(rows, hide_index=True)
    st.caption(trn("{n} run, {size} on disk.", "{n} runs, {size} on disk.", len(refs),
                   size=runinfo.human_size(sum(s.size_bytes for s in summaries.values()), L)))


def manage_picker_ui():
    """The run to manage (kept in the URL), with a link to its Watch page."""
    st.subheader(tr("Manage a run"))
    ref = run_picker(tr("Run"))
    page_link("watch", tr("Watch this run"), ref.key, icon=":material/monitoring:")
    return ref


def downloads_ui(ref) -> None:
    run = ref.run
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


def rename_ui(ref, s) -> None:
    st.markdown("**" + tr("Rename") + "**")
    with st.form(f"rename::{ref.key}", border=False):
        new_name = st.text_input(tr("Name"), value=s.name, max_chars=runinfo.MAX_LABEL,
                                 help=tr("Shown as plain text everywhere: Markdown and HTML are not "
                                         "interpreted."))
        if st.form_submit_button(tr("Save name")):
            try:
                saved = runinfo.write_label(ref.run, new_name)
            except (ValueError, OSError) as e:
                st.error(tr("Could not rename: {error}", error=shown(e.args[0] if e.args else str(e))))
            else:
                st.session_state[FLASH] = tr("Renamed to “{name}”.", name=saved)
                st.rerun()


def delete_ui(ref, s, L: str) -> None:
    run = ref.run
    st.markdown("**" + tr("Delete") + "**")
    if s.active:
        st.caption(tr("This run is {state}: stop it on the Watch page before deleting it.",
                      state=runinfo.state_name(s.state, L)))
        return
    size = runinfo.human_size(s.size_bytes, L)
    sure = st.checkbox(tr("Yes, delete “{name}” and everything in it ({size})", name=s.name, size=size),
                       key=f"del_ok::{ref.key}")
    if st.button(tr("Delete run"), icon=":material/delete:", disabled=not sure, key=f"del::{ref.key}"):
        if run.state() in ("queued", "running", "paused"):
            st.error(tr("The run started again in the meantime; stop it first."))
        else:
            run.delete()
            st.query_params.pop("run", None)
            st.session_state[FLASH] = tr("Deleted “{name}”.", name=s.name)
            st.rerun()


if __name__ == "__main__":
    main()
