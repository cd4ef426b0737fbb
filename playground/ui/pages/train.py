"""Train: pick a preset, adjust the few settings that matter (the rest wait in expanders), and
start. Start creates a run folder and a worker process of its own, then opens the Watch page."""

import streamlit as st

from playground.config import TOY_NAMES, ConfigError
from playground.presets import PRESETS
from playground.registry import FAMILIES
from playground.runs import RunError
from playground.ui import form
from playground.ui.common import PAGES, job_manager, runs_root
from playground.i18n import t
from playground.ui.i18n import error_text, lang, shown, tr, trn, tx
from playground.ui.upload import zip_uploader

FEW_STEPS = 10   # an epoch of fewer training steps than this barely changes the grid


def main() -> None:
    intro_ui()
    preset_name = preset_ui()
    preset = PRESETS[preset_name]
    about_preset = st.empty()   # filled once the dataset is known: the preset's own words may not fit it
    defaults = form.preset_defaults(preset_name)
    form.init_fields(defaults)
    devices, device_note = form.device_choices()
    slots: dict = {}
    values = {"preset": preset_name}
    values.update(basics_ui(defaults, slots))
    saved = data_ui(values["dataset"], slots)
    values["data_dir"] = str(saved.path) if saved else ""
    family = values["family"]
    values.update(family_ui(family, defaults, slots))
    cols = st.columns(5)
    with cols[0]:
        values["objective"] = form.field("objective", defaults["objective"], slots,
                                         choices=form.objective_choices(family))
    for col, name in zip(cols[1:], ("epochs", "batch_size", "lr_g", "lr_d")):
        with col:
            values[name] = form.field(name, defaults[name], slots)
    values.update(more_settings_ui(defaults, slots, devices, device_note, values["arch"], family))
    values["name"] = name_ui()
    about_preset_ui(about_preset, preset, values["dataset"])
    if saved and not values.get("name"):
        # a run of one's own images is not "classroom": name it after what it learns from
        values["name"] = tx("{preset} on {file}", preset=preset_name, file=saved.name)
    waiting_for_upload = values["dataset"] == "folder" and not values["data_dir"]

    cfg, errors = form.check(values)
    if waiting_for_upload:   # nothing to fix yet: the zip simply has not come
        errors.pop("data_dir", None)
    leftover = form.show_errors(slots, errors)
    steps_note = short_epoch_warning(values, saved.n_images if saved else None)
    if steps_note:
        st.warning(steps_note, icon=":material/speed:")

    st.divider()
    manager = job_manager()
    busy, limit = manager.slots(cfg.device if cfg else "auto")  # of the devices this run may use
    problems_ui(leftover, errors, busy, limit, waiting_for_upload)
    if start_button_ui(disabled=bool(errors) or waiting_for_upload):
        start(manager, cfg)


def intro_ui() -> None:
    st.title(tr("Train a GAN"))
    st.caption(tr("Start from a preset: it names a known combination of architecture, objective and "
                  "settings. Change what you like; every setting explains itself when you hover over "
                  "its question mark."))


def preset_ui() -> str:
    return st.selectbox(tr("Preset"), list(PRESETS), key=form.KEY + "preset",
                        format_func=lambda n, L=lang(): t(PRESETS[n].title, L), on_change=form.apply_preset)


def basics_ui(defaults: dict, slots: dict) -> dict:
    """The run's data, its GAN family and its architecture, side by side at the top."""
    values = {}
    for col, name in zip(st.columns(3), ("dataset", "family", "arch")):
        with col:
            values[name] = form.field(name, defaults[name], slots)
    return values


def name_ui() -> str:
    """The run's name, just above the start button."""
    col, _ = st.columns([2, 3])
    with col:
        return st.text_input(form.label("name"), key=form.KEY + "name", max_chars=100,
                             placeholder=tx("e.g. my first DCGAN"),
                             help=tr("Shown in the run lists; you can rename the run later."))


def family_ui(family: str, defaults: dict, slots: dict) -> dict:
    """What the chosen GAN family adds, in plain words, and the settings that are its alone."""
    fam = FAMILIES.get(family)
    if fam is None:
        return {}
    if fam.explanation:
        st.caption(f"**{tr(fam.title)}** — {tr(fam.explanation)}")
    names = form.FAMILY_SETTINGS.get(family, ())
    return form.fields_in_columns(names, defaults, slots, columns=4) if names else {}


def data_ui(dataset: str, slots: dict):
    """The zip of one's own images when the data is a folder (the saved upload, or None), a word on
    2D toys when it is one."""
    saved = None
    if dataset == "folder":
        saved = zip_uploader(runs_root())
        slots["data_dir"] = st.empty()
    elif dataset in TOY_NAMES:
        st.caption(tr("2D toys train in seconds: the generator learns to place points on the shape, and "
                      "the 2D toy view shows where the discriminator draws its line."))
    return saved


def more_settings_ui(defaults: dict, slots: dict, devices: list[str], device_note: str, arch: str,
                     family: str) -> dict:
    values = {}
    st.subheader(tr("More settings"))
    for title, names in form.SECTIONS.items():
        with st.expander(tr(title)):
            if title == "Execution":   # the message id
                st.caption(device_note)
            values.update(form.fields_in_columns(names, defaults, slots, columns=3, devices=devices, arch=arch,
                                                 family=family))
    return values


def about_preset_ui(slot, preset, dataset: str) -> None:
    """What the preset is, in ``slot`` under its select box, said differently when the data was changed."""
    preset_data = preset.overrides.get("dataset")
    if preset_data and dataset == "folder" and preset_data != "folder":
        slot.info(tr("The settings of the preset “{preset}”, used on your own images instead of "
                     "the preset's own data.", preset=tx(preset.title)), icon=":material/lightbulb:")
    elif preset_data and dataset != preset_data:
        slot.info(tr("The settings of the preset “{preset}”, used on {dataset} instead of the "
                     "preset's own data.", preset=tx(preset.title),
                     dataset=tx(form.DATASET_TITLES.get(dataset, dataset))),
                  icon=":material/lightbulb:")
    else:
        slot.info(tr(preset.description), icon=":material/lightbulb:")


def short_epoch_warning(values: dict, n_uploaded: int | None) -> str:
    """A warning when an epoch is only a few steps (a small upload at the default batch size:
    50 images at batch 32 train one step an epoch and the grid stays grey), with a batch size that
    gives about 20 steps an epoch."""
    try:
        batch = int(values.get("batch_size") or 0)
        n = n_uploaded or int(values.get("max_images") or 0)
    except (TypeError, ValueError):
        return ""
    if batch <= 0 or n <= 0 or n // batch >= FEW_STEPS:
        return ""
    suggest = 4
    while suggest * 2 <= n // 20:
        suggest *= 2
    return trn("With {n} image and a batch size of {batch}, an epoch is only {steps} training step, so "
               "the grid barely changes from one epoch to the next. Try a batch size of {suggest} "
               "({more} steps an epoch), or many more epochs.",
               "With {n} images and a batch size of {batch}, an epoch is only {steps} training steps, so "
               "the grid barely changes from one epoch to the next. Try a batch size of {suggest} "
               "({more} steps an epoch), or many more epochs.",
               n, batch=batch, steps=max(1, n // batch), suggest=suggest, more=max(1, n // suggest))


def problems_ui(leftover: dict, errors: dict, busy: int, limit: int, waiting_for_upload: bool) -> None:
    """Above the start button: what stops the run from starting, or that it will wait in the queue."""
    if leftover:
        for name, msg in leftover.items():
            st.error(f"{form.label(name)}: {shown(msg)}")
    if errors:
        st.warning(trn("Fix the setting marked in red above to start.",
                       "Fix the {n} settings marked in red above to start.", len(errors)))
    elif busy >= limit:
        st.caption(trn("{n} run is training already (the limit is {limit}): this one will wait in the "
                       "queue and start by itself.",
                       "{n} runs are training already (the limit is {limit}): this one will wait in the "
                       "queue and start by itself.", busy, limit=limit))
    if waiting_for_upload:
        st.caption(tr("Upload a zip of your images above to start."))


def start_button_ui(disabled: bool) -> bool:
    return st.button(tr("Start training"), type="primary", icon=":material/play_arrow:", disabled=disabled)


def start(manager, cfg) -> None:
    """Submit the run and open its Watch page, or say why it could not start."""
    try:
        run = manager.submit(cfg)
    except (ConfigError, RunError, OSError) as e:
        st.error(tr("The run could not be started: {error}", error=error_text(e)))
    else:
        st.switch_page(PAGES["watch"], query_params={"run": f"runs/{run.id}", "lang": lang()})


if __name__ == "__main__":
    main()
