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
from playground.config import (ARCH_NAMES, DATA_SOURCES, DATASET_NAMES, OBJECTIVE_NAMES, PRECISIONS,
                               UPSAMPLES, ConfigError, TrainConfig, field_help, validation_errors)
from playground.presets import PRESETS
from playground.ui.runinfo import ARCH_NAMES as ARCH_TITLES
from playground.ui.runinfo import OBJECTIVE_NAMES as OBJECTIVE_TITLES

KEY = "train."

# The settings a beginner sees first; the rest are in the expanders below, in this order.
MAIN = ("dataset", "arch", "objective", "epochs", "batch_size", "lr_g", "lr_d")
SECTIONS = {
    "Model": ("conditional", "z_dim", "g_hidden", "d_hidden", "g_filters", "d_filters",
              "kernel_size", "upsample", "batchnorm", "minibatch_std", "dropout", "embed_dim"),
    "Optimisation": ("beta1", "beta2", "weight_decay", "d_steps", "gp_weight"),
    "Stabilising tricks": ("label_smoothing", "instance_noise", "instance_noise_epochs", "replay",
                           "replay_size"),
    "Data": ("data_source", "image_size", "channels", "max_images"),
    "Execution": ("device", "threads", "precision", "channels_last", "fused_adam", "joint_d_batch",
                  "compile", "compile_mode", "seed", "log_every", "sample_count", "sample_seed",
                  "quality_samples", "snapshot_schedule", "keep_checkpoints"),
}
# Set elsewhere on the page: the name box, the preset picker and the upload (never typed).
OTHER = ("name", "preset", "data_dir")

LABELS = {
    "name": "Name (optional)",
    "dataset": "Dataset", "arch": "Architecture", "objective": "Objective (loss)",
    "epochs": "Epochs", "batch_size": "Batch size", "lr_g": "Learning rate of G",
    "lr_d": "Learning rate of D", "conditional": "Conditional (G and D see the class)",
    "z_dim": "Noise size (z_dim)", "g_hidden": "G layer sizes (MLP)", "d_hidden": "D layer sizes (MLP)",
    "g_filters": "G filters (DCGAN)", "d_filters": "D filters (DCGAN)", "kernel_size": "Kernel size (DCGAN)",
    "upsample": "Upsampling (DCGAN)", "batchnorm": "BatchNorm (DCGAN)",
    "minibatch_std": "Minibatch standard deviation in D", "dropout": "Dropout in D",
    "embed_dim": "Label embedding size", "beta1": "Adam beta1", "beta2": "Adam beta2",
    "weight_decay": "Weight decay", "d_steps": "D steps per G step", "gp_weight": "Gradient penalty weight",
    "label_smoothing": "Label smoothing", "instance_noise": "Instance noise",
    "instance_noise_epochs": "Instance noise fades over (epochs)", "replay": "Replay share",
    "replay_size": "Replay buffer size", "data_source": "Where MNIST-likes come from",
    "image_size": "Image size", "channels": "Colour", "max_images": "Use at most (images)",
    "device": "Device", "threads": "CPU threads", "precision": "Precision",
    "channels_last": "Channels-last memory", "fused_adam": "Fused Adam",
    "joint_d_batch": "Real and fake through D as one batch", "compile": "torch.compile",
    "compile_mode": "torch.compile mode", "seed": "Seed",
    "log_every": "Log every (steps)", "sample_count": "Images in the sample grid",
    "sample_seed": "Seed of the fixed noise", "quality_samples": "Samples scored for quality",
    "snapshot_schedule": "Snapshot schedule",
    "keep_checkpoints": "Checkpoints kept for resume",
}
DATASET_TITLES = {
    "mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothes",
    "cifar10": "CIFAR-10 photos (download)",
    "folder": "Your own images (upload a zip)", "ring": "2D toy: 8 Gaussians on a ring",
    "grid": "2D toy: 25 Gaussians on a grid", "spiral": "2D toy: a spiral", "moons": "2D toy: two moons",
}
CHOICES = {
    "dataset": (DATASET_NAMES, DATASET_TITLES),
    "arch": (ARCH_NAMES, ARCH_TITLES),
    "objective": (OBJECTIVE_NAMES, OBJECTIVE_TITLES),
    "upsample": (UPSAMPLES, {}),
    "precision": (PRECISIONS, {}),
    "data_source": (DATA_SOURCES, {"auto": "auto (full copy if cached, else bundled)",
                                   "bundled": "bundled subset (offline)",
                                   "download": "download (torchvision)"}),
    "kernel_size": ((4, 5), {}),
    "image_size": ((0, 28, 32, 64), {0: "the dataset's own", 28: "28 px", 32: "32 px", 64: "64 px"}),
    "channels": ((0, 1, 3), {0: "the dataset's own", 1: "grey", 3: "colour"}),
}
# Settings of newer cores that this form does not name yet still get a widget, under Execution.
_KNOWN = set(MAIN) | set(OTHER) | {n for names in SECTIONS.values() for n in names}
_ALL = [f.name for f in dataclasses.fields(TrainConfig)]
SECTIONS["Execution"] = tuple(n for n in SECTIONS["Execution"] if n in _ALL) + tuple(
    n for n in _ALL if n not in _KNOWN)
for _name, _const in (("joint_d_batch", "JOINT_D_BATCH"), ("compile_mode", "COMPILE_MODES")):
    if hasattr(_config, _const):
        CHOICES[_name] = (getattr(_config, _const), {})
FLOAT_STEPS = {"lr_g": 5e-5, "lr_d": 5e-5, "weight_decay": 1e-5}


def device_choices() -> tuple[list[str], str]:
    """The devices this server has, and a sentence saying so (auto picks the first GPU)."""
    opts, have = ["auto", "cpu"], [f"CPU ({os.cpu_count() or 1} cores)"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            opts.append(f"cuda:{i}")
            have.append(f"cuda:{i} {torch.cuda.get_device_name(i)}")
        opts.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        opts.append("mps")
        have.append("Apple GPU (mps)")
    auto = "cuda:0" if torch.cuda.is_available() else ("mps" if "mps" in opts else "cpu")
    return opts, f"This server has: {', '.join(have)}. 'auto' trains on {auto}."


def preset_defaults(preset: str) -> dict:
    """The preset's settings on top of the defaults, with each field's own type, not validated
    (folder presets are only complete once a zip is uploaded)."""
    d = TrainConfig().to_dict()
    d.update(PRESETS[preset].overrides)
    d["preset"] = preset
    return TrainConfig.from_dict(d).to_dict()


def _widget_value(value):
    """How a setting sits in its widget: layer sizes as "256, 512, 1024" text, others as they are."""
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value


def init_fields(defaults: dict) -> None:
    """Give each field widget its start value, once: widgets read their value from the session
    state only, so a preset change can set them all (see :func:`apply_preset`)."""
    for name, value in defaults.items():
        if name not in OTHER:
            st.session_state.setdefault(KEY + name, _widget_value(value))


def apply_preset() -> None:
    """On a preset change: put that preset's value into every field."""
    for name, value in preset_defaults(st.session_state[KEY + "preset"]).items():
        if name not in OTHER:
            st.session_state[KEY + name] = _widget_value(value)


def check(values: dict) -> tuple[TrainConfig | None, dict[str, str]]:
    """(config, {}) when ``values`` are valid, else (None, {field: message}) naming every problem."""
    try:
        cfg = TrainConfig.from_dict(values)
    except ConfigError as e:
        rest = TrainConfig.from_dict({k: v for k, v in values.items() if k not in e.errors})
        return None, {**validation_errors(rest), **e.errors}
    errors = validation_errors(cfg)
    return (None if errors else cfg), errors


def field(name: str, default, slots: dict, devices: list[str] | None = None):
    """Draw the widget of one field (its preset value as the start) and an empty slot under it
    for its validation message (``slots[name]``, filled by :func:`show_errors`); the value."""
    label, key, help_ = LABELS.get(name, name), KEY + name, field_help().get(name)
    if name == "device":
        options, titles = devices or ["auto", "cpu"], {}
    elif name in CHOICES:
        options, titles = CHOICES[name]
    else:
        options = None
    current = st.session_state.get(key, default)
    if options is not None:
        options = list(options) + ([current] if current not in options else [])
        value = st.selectbox(label, options, key=key, help=help_, format_func=lambda v: titles.get(v, str(v)))
    elif isinstance(default, bool):
        value = st.checkbox(label, key=key, help=help_)
    elif isinstance(default, int):
        value = st.number_input(label, step=1, format="%d", key=key, help=help_)
    elif isinstance(default, float):
        value = st.number_input(label, step=FLOAT_STEPS.get(name, 0.01), format="%g", key=key, help=help_)
    else:   # text, and layer sizes as "256, 512, 1024"
        value = st.text_input(label, key=key, help=help_, max_chars=200)
    slots[name] = st.empty()
    return value


def fields_in_columns(names, defaults: dict, slots: dict, columns: int, devices=None) -> dict:
    """Draw ``names`` left to right in rows of ``columns``; returns {field: value}."""
    out = {}
    for i in range(0, len(names), columns):
        for col, name in zip(st.columns(columns), names[i:i + columns]):
            with col:
                out[name] = field(name, defaults[name], slots, devices)
    return out


def show_errors(slots: dict, errors: dict[str, str]) -> dict[str, str]:
    """Write each message into its field's slot; returns the messages that have no field here."""
    for name, msg in errors.items():
        if name in slots:
            slots[name].markdown(f":red[⚠ {msg}]")
    return {k: v for k, v in errors.items() if k not in slots}
