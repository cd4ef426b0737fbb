"""Train: pick a preset, adjust the few settings that matter (the rest wait in expanders), and
start. Start creates a run folder and a worker process of its own, then opens the Watch page."""

import streamlit as st

from playground.config import TOY_NAMES, ConfigError
from playground.presets import PRESETS
from playground.runs import RunError
from playground.ui import form
from playground.ui.common import PAGES, job_manager, runs_root
from playground.ui.upload import zip_uploader

st.title("Train a GAN")
st.caption("Start from a preset: it names a known combination of architecture, objective and "
           "settings. Change what you like; every setting explains itself when you hover over "
           "its question mark.")

names = list(PRESETS)
preset_name = st.selectbox("Preset", names, key=form.KEY + "preset",
                           format_func=lambda n: PRESETS[n].title, on_change=form.apply_preset)
preset = PRESETS[preset_name]
st.info(preset.description, icon=":material/lightbulb:")
defaults = form.preset_defaults(preset_name)
form.init_fields(defaults)
devices, device_note = form.device_choices()
slots: dict = {}
values = {"preset": preset_name}

top = st.columns([2, 2, 2])
with top[0]:
    values["name"] = st.text_input("Name (optional)", key=form.KEY + "name", max_chars=100,
                                   placeholder="e.g. my first DCGAN",
                                   help="Shown in the run lists; you can rename the run later.")
with top[1]:
    values["dataset"] = form.field("dataset", defaults["dataset"], slots)
with top[2]:
    values["arch"] = form.field("arch", defaults["arch"], slots)

values["data_dir"] = ""
if values["dataset"] == "folder":
    saved = zip_uploader(runs_root())
    values["data_dir"] = str(saved.path) if saved else ""
    slots["data_dir"] = st.empty()
elif values["dataset"] in TOY_NAMES:
    st.caption("2D toys train in seconds: the generator learns to place points on the shape, and "
               "the 2D toy view shows where the discriminator draws its line.")

values.update(form.fields_in_columns(("objective", "epochs", "batch_size", "lr_g", "lr_d"), defaults,
                                     slots, columns=5))

st.subheader("More settings")
for title, names_ in form.SECTIONS.items():
    with st.expander(title):
        if title == "Execution":
            st.caption(device_note)
        values.update(form.fields_in_columns(names_, defaults, slots, columns=3, devices=devices))

cfg, errors = form.check(values)
leftover = form.show_errors(slots, errors)

st.divider()
manager = job_manager()
busy, limit = manager.slots(cfg.device if cfg else "auto")  # of the devices this run may use
if leftover:
    for name, msg in leftover.items():
        st.error(f"{form.LABELS.get(name, name)}: {msg}")
if errors:
    st.warning(f"Fix the {len(errors)} setting{'s' if len(errors) != 1 else ''} marked in red "
               "above to start.")
elif busy >= limit:
    st.caption(f"{busy} run{'s are' if busy != 1 else ' is'} training already (the limit is "
               f"{limit}): this one will wait in the queue and start by itself.")
if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=bool(errors)):
    try:
        run = manager.submit(cfg)
    except (ConfigError, RunError, OSError) as e:
        st.error(f"The run could not be started: {e}")
    else:
        st.switch_page(PAGES["watch"], query_params={"run": f"runs/{run.id}"})
