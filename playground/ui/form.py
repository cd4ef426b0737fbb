"""The training form: one widget per TrainConfig field, grouped for beginners, validated by the
core's own rules (``TrainConfig.from_dict(...).validate()``) with each message under its field.

Widget keys are ``"train.<field>"``; each widget takes its value from the session state only, so
choosing a preset can put that preset's value into every field.
"""

from __future__ import annotations

import dataclasses
import os

import streamlit as st
import torch

from playground import config as _config
from playground.config import (DATA_SOURCES, DATASET_NAMES, PRECISIONS, ConfigError, TrainConfig, field_help,
                               validation_errors)
from playground.i18n import N_, Message, parse_number, t
from playground.presets import PRESETS
from playground.ui import glossary
from playground.ui.i18n import esc, lang, shown, tr, tx
from playground.live import LIVE_SETTINGS
from playground.registry import (ARCH_NAMES, ARCHITECTURES, D_DOWNSAMPLES, FAMILIES, FAMILY_NAMES, G_ACTIVATIONS,
                                 OBJECTIVE_NAMES, OBJECTIVES, UPSAMPLES)

KEY = "train."

# The settings a beginner sees first; the rest are in the expanders below, in this order.
MAIN = ("dataset", "family", "arch", "objective", "epochs", "batch_size", "lr_g", "lr_d")
# Section titles are message ids (translated where drawn).
SECTIONS = {
    N_("Model"): ("conditional", "z_dim", "g_hidden", "d_hidden", "g_filters", "d_filters",
              "kernel_size", "upsample", "d_downsample", "batchnorm", "minibatch_std", "minibatch_disc",
              "minibatch_disc_dim", "dropout", "g_activation", "g_dropout", "embed_dim"),
    N_("Optimisation"): ("beta1", "beta2", "weight_decay", "d_steps", "g_steps", "gp_weight"),
    N_("Stabilising tricks"): ("label_smoothing", "instance_noise", "instance_noise_epochs", "replay",
                           "replay_size", "mode_seeking"),
    N_("Data"): ("data_source", "image_size", "channels", "max_images"),
    N_("Execution"): ("device", "threads", "precision", "channels_last", "fused_adam", "joint_d_batch",
                  "compile", "compile_mode", "seed", "log_every", "sample_count", "sample_seed",
                  "quality_samples", "snapshot_schedule", "keep_checkpoints"),
}
# Set elsewhere on the page: the name box, the preset picker and the upload (never typed).
OTHER = ("name", "preset", "data_dir")
# Settings that only some architectures have: shown only when one of them is picked.
ONLY_FOR_ARCHS = {"d_downsample": tuple(a.name for a in ARCHITECTURES.values() if a.convs)}

LABELS = {
    "name": N_("Name (optional)"), "family": N_("GAN family"),
    "dataset": N_("Dataset"), "arch": N_("Architecture"), "objective": N_("Objective (loss)"),
    "epochs": N_("Epochs"), "batch_size": N_("Batch size"),
    "conditional": N_("Conditional (G and D see the class)"),
    "z_dim": N_("Noise size (z_dim)"), "g_hidden": N_("G layer sizes (MLP)"), "d_hidden": N_("D layer sizes (MLP)"),
    "g_filters": N_("G filters (DCGAN)"), "d_filters": N_("D filters (DCGAN)"), "kernel_size": N_("Kernel size (DCGAN)"),
    "upsample": N_("Upsampling (DCGAN)"), "batchnorm": N_("BatchNorm (DCGAN)"),
    "minibatch_std": N_("Minibatch standard deviation in D"), "dropout": N_("Dropout in D"),
    "embed_dim": N_("Label embedding size"), "d_downsample": N_("Downsampling in D"),
    "minibatch_disc": N_("Minibatch discrimination in D (kernels)"),
    "minibatch_disc_dim": N_("Minibatch discrimination kernel size"),
    "g_activation": N_("Activation in G"), "g_dropout": N_("Dropout in G"), "beta1": N_("Adam beta1"), "beta2": N_("Adam beta2"),
    "weight_decay": N_("Weight decay"), "gp_weight": N_("Gradient penalty weight"),
    "label_smoothing": N_("Label smoothing"), "instance_noise": N_("Instance noise"),
    "instance_noise_epochs": N_("Instance noise fades over (epochs)"), "replay": N_("Replay share"), "mode_seeking": N_("Mode seeking"),
    "replay_size": N_("Replay buffer size"), "data_source": N_("Where MNIST-likes come from"),
    "image_size": N_("Image size"), "channels": N_("Colour"), "max_images": N_("Use at most (images)"),
    "device": N_("Device"), "threads": N_("CPU threads"), "precision": N_("Precision"),
    "channels_last": N_("Channels-last memory"), "fused_adam": N_("Fused Adam"),
    "joint_d_batch": N_("Real and fake through D as one batch"), "compile": N_("torch.compile"),
    "compile_mode": N_("torch.compile mode"), "seed": N_("Seed"),
    "log_every": N_("Log every (steps)"), "sample_count": N_("Images in the sample grid"),
    "sample_seed": N_("Seed of the fixed noise"), "quality_samples": N_("Samples scored for quality"),
    "snapshot_schedule": N_("Snapshot schedule"),
    "keep_checkpoints": N_("Checkpoints kept for resume"),
}
LABELS.update({s.name: s.label for s in LIVE_SETTINGS})   # the live settings name themselves (playground/live.py)
DATASET_TITLES = {
    "mnist": N_("MNIST digits"), "fashion-mnist": N_("Fashion-MNIST clothes"),
    "cifar10": N_("CIFAR-10 photos (download)"),
    "folder": N_("Your own images (upload a zip)"), "ring": N_("2D toy: 8 Gaussians on a ring"),
    "grid": N_("2D toy: 25 Gaussians on a grid"), "spiral": N_("2D toy: a spiral"), "moons": N_("2D toy: two moons"),
}
CHOICES = {
    "dataset": (DATASET_NAMES, DATASET_TITLES),
    "family": (FAMILY_NAMES, {f.name: f.short or f.title for f in FAMILIES.values()}),   # short: fits at 1024 px
    "arch": (ARCH_NAMES, {a.name: a.title for a in ARCHITECTURES.values()}),
    "objective": (OBJECTIVE_NAMES, {o.name: o.title for o in OBJECTIVES.values()}),
    "upsample": (UPSAMPLES, {}),
    "d_downsample": (D_DOWNSAMPLES, {"stride": N_("stride (stride-2 conv)"),
                                     "avgpool": N_("avgpool (conv + average pooling)")}),
    "g_activation": (G_ACTIVATIONS, {"auto": N_("auto (the architecture's own)"), "relu": "ReLU",
                                     "leakyrelu": "LeakyReLU"}),
    "precision": (PRECISIONS, {}),
    "data_source": (DATA_SOURCES, {"auto": N_("auto (full copy if cached, else bundled)"),
                                   "bundled": N_("bundled subset (offline)"),
                                   "download": N_("download (torchvision)")}),
    "kernel_size": ((4, 5), {}),
    "image_size": ((0, 28, 32, 64, 128), {0: N_("the dataset's own"), 28: "28 px", 32: "32 px", 64: "64 px",
                                          128: "128 px"}),
    "channels": ((0, 1, 3), {0: N_("the dataset's own"), 1: N_("grey"), 3: N_("colour")}),
}
# A family's own settings are drawn under the family picker, for that family alone.
LABELS.update({name: label_ for fam in FAMILIES.values() for name, label_ in fam.settings})
FAMILY_SETTINGS = {fam.name: tuple(name for name, _ in fam.settings) for fam in FAMILIES.values()}
# Settings of newer cores that this form does not name yet still get a widget, under Execution.
_KNOWN = (set(MAIN) | set(OTHER) | {n for names in SECTIONS.values() for n in names}
          | {n for names in FAMILY_SETTINGS.values() for n in names})
_ALL = [f.name for f in dataclasses.fields(TrainConfig)]
SECTIONS["Execution"] = tuple(n for n in SECTIONS["Execution"] if n in _ALL) + tuple(
    n for n in _ALL if n not in _KNOWN)
for _name, _const in (("joint_d_batch", "JOINT_D_BATCH"), ("compile_mode", "COMPILE_MODES")):
    if hasattr(_config, _const):
        CHOICES[_name] = (getattr(_config, _const), {})
FLOAT_STEPS = {"lr_g": 5e-5, "lr_d": 5e-5, "weight_decay": 1e-5}


def device_choices() -> tuple[list[str], str]:
    """The devices this server has, and a sentence saying so (auto picks the first GPU). With the
    Ray backend runs train on the lab's machines, not here: the choices a cluster job can have
    (its address is never shown)."""
    from playground.jobs import backend_name

    try:
        on_cluster = backend_name() == "ray"
    except ValueError:
        on_cluster = False
    if on_cluster:
        return ["auto", "cpu", "cuda"], tr("Runs train on the lab's machines: 'auto' takes a GPU when the "
                                           "cluster has one, and waits in the queue while every GPU is busy.")
    opts, have = ["auto", "cpu"], [tx("CPU ({n} cores)", n=os.cpu_count() or 1)]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            opts.append(f"cuda:{i}")
            have.append(f"cuda:{i} {torch.cuda.get_device_name(i)}")
        opts.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        opts.append("mps")
        have.append(tx("Apple GPU (mps)"))
    auto = "cuda:0" if torch.cuda.is_available() else ("mps" if "mps" in opts else "cpu")
    return opts, tr("This server has: {devices}. 'auto' trains on {auto}.", devices=", ".join(have), auto=auto)


def preset_defaults(preset: str) -> dict:
    """The preset's settings on top of the defaults, with each field's own type, not validated
    (folder presets are only complete once a zip is uploaded)."""
    d = TrainConfig().to_dict()
    d.update(PRESETS[preset].overrides)
    d["preset"] = preset
    return TrainConfig.from_dict(d).to_dict()


def _widget_value(value):
    """How a setting sits in its widget: layer sizes as "256, 512, 1024" text, decimal numbers as
    text in the page's language (0,0002 in pt-BR; either separator is accepted back), others as
    they are."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return typed_number(value)
    return value


def typed_number(value: float) -> str:
    """A decimal number as a person would type it in the page's language (no thousands
    separator: 0,0002, 1e-07 stays readable as 0,0000001)."""
    text = f"{value:.12f}".rstrip("0").rstrip(".") if value == value and abs(value) < 1e15 else repr(value)
    if text in ("", "-0"):
        text = "0"
    return text.replace(".", ",") if lang() == "pt" else text


def label(name: str) -> str:
    """The visible (translated) name of a setting."""
    return tr(LABELS[name]) if name in LABELS else esc(name)


def _float_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(TrainConfig) if isinstance(f.default, float)
            and not isinstance(f.default, bool)}


def parse_typed(values: dict) -> tuple[dict, dict]:
    """Decimal settings typed as text (comma or point) turned into numbers; (values, errors)."""
    out, errors = dict(values), {}
    for name in _float_fields():
        if isinstance(out.get(name), str):
            try:
                out[name] = parse_number(out[name])
            except ValueError:
                errors[name] = Message("must be a number, got {value}", value=repr(out[name]))
                out.pop(name)
    return out, errors


def init_fields(defaults: dict, prefix: str = KEY) -> None:
    """Give each field widget its start value, once: widgets read their value from the session
    state only, so a preset change can set them all (see :func:`apply_preset`)."""
    for name, value in defaults.items():
        if name not in OTHER:
            st.session_state.setdefault(prefix + name, _widget_value(value))


def apply_preset() -> None:
    """On a preset change: put that preset's value into every field."""
    for name, value in preset_defaults(st.session_state[KEY + "preset"]).items():
        if name not in OTHER:
            st.session_state[KEY + name] = _widget_value(value)


def load_settings(config: dict) -> None:
    """Put a run's settings into every field of the Train form (its "new run from these
    settings"). The run's name and an uploaded zip are not reused: a new run gets its own."""
    preset = config.get("preset")
    base = preset_defaults(preset) if preset in PRESETS else TrainConfig().to_dict()
    for name, value in base.items():
        if name not in OTHER:
            st.session_state[KEY + name] = _widget_value(config.get(name, value))
    if preset in PRESETS:
        st.session_state[KEY + "preset"] = preset
    st.session_state[KEY + "name"] = ""


def check(values: dict) -> tuple[TrainConfig | None, dict[str, str]]:
    """(config, {}) when ``values`` are valid, else (None, {field: message}) naming every problem."""
    values, typed = parse_typed(values)
    try:
        cfg = TrainConfig.from_dict(values)
    except ConfigError as e:
        rest = TrainConfig.from_dict({k: v for k, v in values.items() if k not in e.errors})
        return None, {**validation_errors(rest), **e.errors, **typed}
    errors = {**validation_errors(cfg), **typed}
    return (None if errors else cfg), errors


def field(name: str, default, slots: dict, devices: list[str] | None = None, prefix: str = KEY,
          choices: tuple | None = None):
    """Draw the widget of one field (its preset value as the start) and an empty slot under it
    for its validation message (``slots[name]``, filled by :func:`show_errors`); the value.
    ``prefix``: the widgets' key prefix (the Train form's, or the Watch page's live settings);
    ``choices``: the options of a choice field when fewer than all apply."""
    label_, key = label(name), prefix + name
    help_ = tr(field_help()[name]) if name in field_help() else None
    if name == "objective":   # the terms of papers stay; each gets a plain explanation
        help_ = "\n\n".join(tr(glossary.TERMS[k]) for k in OBJECTIVE_NAMES)
    if name == "device":
        options, titles = devices or ["auto", "cpu"], {}
    elif choices is not None:   # fewer choices than the field has (the objectives of one family)
        options, titles = choices, CHOICES[name][1]
    elif name in CHOICES:
        options, titles = CHOICES[name]
    else:
        options = None
    current = st.session_state.get(key, default)
    if options is not None:
        options = list(options) + ([current] if current not in options else [])
        value = st.selectbox(label_, options, key=key, help=help_,
                             format_func=lambda v, L=lang(): t(titles[v], L) if v in titles else str(v))
    elif isinstance(default, bool):
        value = st.checkbox(label_, key=key, help=help_)
    elif isinstance(default, int):
        value = st.number_input(label_, step=1, format="%d", key=key, help=help_)
    elif isinstance(default, float):
        # text, not a number box: a decimal comma (0,0002) must be accepted as well as a point
        if not isinstance(st.session_state.get(key), str):
            st.session_state[key] = typed_number(float(current))
        value = st.text_input(label_, key=key, help=help_, max_chars=40)
    else:   # text, and layer sizes as "256, 512, 1024"
        value = st.text_input(label_, key=key, help=help_, max_chars=200)
    slots[name] = st.empty()
    return value


def applies(name: str, family: str) -> bool:
    """Whether the setting ``name`` means anything for a run of ``family`` (a family's own settings
    only for it; "conditional" only where the family lets G and D be given the class)."""
    fam = FAMILIES.get(family)
    if fam is None:
        return True
    if name == "conditional":
        return fam.conditional
    owners = [f for f, names in FAMILY_SETTINGS.items() if name in names]
    return not owners or family in owners


def objective_choices(family: str) -> tuple:
    fam = FAMILIES.get(family)
    return fam.objectives if fam is not None and fam.objectives else OBJECTIVE_NAMES


def applies_to_arch(name: str, arch: str | None) -> bool:
    """Whether the setting ``name`` means something for the architecture ``arch`` (None: any)."""
    return arch is None or name not in ONLY_FOR_ARCHS or arch in ONLY_FOR_ARCHS[name]


def fields_in_columns(names, defaults: dict, slots: dict, columns: int, devices=None, arch: str | None = None,
                      family: str | None = None) -> dict:
    """Draw ``names`` left to right in rows of ``columns``; returns {field: value}. Settings that
    ``arch`` does not have, or that mean nothing for ``family``, are not drawn and keep their preset
    value (a family that decides G's input itself is never conditional)."""
    shown_ = [n for n in names if applies_to_arch(n, arch) and (family is None or applies(n, family))]
    out = {name: defaults[name] for name in names if name not in shown_}
    if "conditional" in out:
        out["conditional"] = False
    names = shown_
    for i in range(0, len(names), columns):
        for col, name in zip(st.columns(columns), names[i:i + columns]):
            with col:
                out[name] = field(name, defaults[name], slots, devices)
    return out


def show_errors(slots: dict, errors: dict[str, str], named: bool = False) -> dict[str, str]:
    """Write each message into its field's slot (``named``: after the field's visible name); returns
    the messages that have no field here."""
    for name, msg in errors.items():
        if name in slots:
            slots[name].markdown(f":red[⚠ {label(name) + ': ' if named else ''}{shown(msg)}]")
    return {k: v for k, v in errors.items() if k not in slots}
