"""What the dashboard says about a run: its display name, a one-line summary, the log tail, and
plain advice when it failed. No streamlit here, so every function is testable on its own.

Display names live in ``label.json`` beside the run's config, written atomically by the dashboard:
the training worker is the only writer of ``config.json``, so renaming a run never races with it.
"""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass

from playground.config import TrainConfig
from playground.i18n import N_, format_number, msg, stored_text, t
from playground.registry import ARCHITECTURES, FAMILIES, OBJECTIVES
from playground.runs import ACTIVE_STATES, Run, RunError, atomic_write_json, open_entry, read_json

LABEL_FILE = "label.json"
MAX_LABEL = 100

# Message ids: translate with t(..., lang) where they are shown.
ARCH_NAMES = {a.name: a.title for a in ARCHITECTURES.values()}
OBJECTIVE_NAMES = {o.name: o.title for o in OBJECTIVES.values()}
DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
                 "folder": N_("own images"), "ring": N_("ring"), "grid": N_("grid"),
                 "spiral": N_("spiral"), "moons": N_("moons")}
STATE_NAMES = {"queued": N_("queued"), "running": N_("running"), "paused": N_("paused"),
               "finished": N_("finished"), "stopped": N_("stopped"), "failed": N_("failed"),
               "interrupted": N_("interrupted")}
# Material icons (rendered by Streamlit in any markdown text; emoji need a font the browser may lack).
STATE_ICONS = {"queued": ":gray[:material/schedule:]", "running": ":green[:material/play_circle:]",
               "paused": ":orange[:material/pause_circle:]", "finished": ":green[:material/check_circle:]",
               "stopped": ":gray[:material/stop_circle:]", "failed": ":red[:material/error:]",
               "interrupted": ":orange[:material/warning:]"}


# ----------------------------------------------------------------------------- display names
def read_label(run: Run) -> str:
    """The name given in the dashboard, or "" when there is none (or label.json is broken)."""
    try:
        doc = read_json(run.path / LABEL_FILE)
    except RunError:
        return ""
    name = doc.get("name", "") if isinstance(doc, dict) else ""
    return name if isinstance(name, str) else ""


def clean_label(name: str) -> str:
    """Strip and check a new display name; ValueError with a plain message when it is unusable."""
    if not isinstance(name, str):
        raise ValueError(msg("the name must be text"))
    name = " ".join(name.split())
    if not name:
        raise ValueError(msg("the name cannot be empty"))
    if len(name) > MAX_LABEL:
        raise ValueError(msg("the name can be at most {most} characters (it has {n})", most=MAX_LABEL,
                             n=len(name)))
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError(msg("the name cannot contain control characters"))
    return name


def write_label(run: Run, name: str) -> str:
    """Give ``run`` a display name (atomically replacing label.json); returns the cleaned name."""
    name = clean_label(name)
    atomic_write_json(run.path / LABEL_FILE, {"name": name, "updated": time.time()})
    return name


def display_name(run: Run, cfg: TrainConfig | None = None, lang: str | None = None) -> str:
    """label.json's name, else the config's name or preset, else the run id. With ``lang``, a
    config name the catalogs know (a pretrained run's) in that language; a name a person gave in
    label.json stays as it is."""
    label = read_label(run)
    if label:
        return label
    if cfg is None:
        try:
            cfg = run.read_config()
        except RunError:
            return run.id
    name = cfg.name or cfg.preset or run.id
    return stored_text(name, lang) if lang and cfg.name else name


# ----------------------------------------------------------------------------- summaries
@dataclass
class RunSummary:
    """One row of the runs table; ``error`` is set when the folder cannot be read."""

    name: str
    state: str
    dataset: str = ""
    arch: str = ""
    objective: str = ""
    conditional: bool = False
    family: str = "gan"
    epoch: int = 0
    epochs: int = 0
    size_bytes: int = 0
    started: float = 0.0
    error: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def what(self) -> str:
        """e.g. "DCGAN · non-saturating BCE · Fashion-MNIST" (English; ``what_in`` for a language)."""
        return self.what_in("en")

    def what_in(self, lang: str) -> str:
        return what_of(self.arch, self.objective, self.dataset, self.conditional, lang, self.family)


def what_of(arch: str, objective: str, dataset: str, conditional: bool = False, lang: str | None = None,
            family: str = "gan") -> str:
    """One line saying what a run is: [family ·] architecture · objective · data, in ``lang`` (the
    page's language when called from a page without one); the plain GAN family is not named."""
    if lang is None:
        from playground.ui.i18n import lang as page_lang
        lang = page_lang()
    arch_name = t(ARCH_NAMES.get(arch, arch), lang)
    if conditional:
        arch_name = t("conditional {arch}", lang, arch=arch_name)
    fam = FAMILIES.get(family)
    if family != "gan" and fam is not None:
        arch_name = f"{t(fam.short or fam.name, lang)} · {arch_name}"
    return (f"{arch_name} · {t(OBJECTIVE_NAMES.get(objective, objective), lang)} · "
            f"{t(DATASET_NAMES.get(dataset, dataset), lang)}")


def state_name(state: str, lang: str | None = None) -> str:
    if lang is None:
        from playground.ui.i18n import lang as page_lang
        lang = page_lang()
    return t(STATE_NAMES.get(state, state), lang)


def summarize(run: Run, with_size: bool = False, lang: str | None = None) -> RunSummary:
    try:
        cfg = run.read_config()
    except RunError as e:
        return RunSummary(name=run.id, state="failed", error=str(e))
    st = run.read_status()
    return RunSummary(
        name=display_name(run, cfg, lang), state=run.state(), dataset=cfg.dataset, arch=cfg.arch,
        objective=cfg.objective, conditional=cfg.conditional, family=cfg.family, epoch=int(st.get("epoch") or 0),
        epochs=int(st.get("epochs") or cfg.epochs), size_bytes=run.size_bytes() if with_size else 0,
        started=float(st.get("started") or run.config_path.stat().st_mtime))


def human_size(n: int, lang: str = "en") -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{format_number(n / div, lang, decimals=1)} {unit}"
    return f"{n} B"


def human_duration(seconds: float | None) -> str:
    """"1 h 05 min", "3 min 20 s", "12 s"; "–" when unknown (the same in both languages)."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def progress(status: dict) -> float:
    """Fraction of the run done, in [0, 1], from the step count (or the epochs when unknown)."""
    epochs = int(status.get("epochs") or 0)
    if epochs <= 0:
        return 0.0
    spe = int(status.get("steps_per_epoch") or 0)
    if spe > 0:
        done = float(status.get("step") or 0) / (spe * epochs)
    else:
        done = float(status.get("epoch") or 0) / epochs
    if status.get("state") == "finished":
        done = 1.0
    return min(1.0, max(0.0, done))


# ----------------------------------------------------------------------------- log and failures
def log_tail(run: Run, max_lines: int = 60, max_bytes: int = 32_000) -> str:
    """The last lines of log.txt (read from the end, so a long log costs nothing)."""
    try:
        with os.fdopen(open_entry(run.log_path, root=run.path), "rb") as f:  # never a link out of the run
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except (OSError, RunError):
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line is probably cut
    return "\n".join(lines[-max_lines:])


_ADVICE = (
    (("nan", "infinite", "diverge"),
     N_("The losses blew up. Lower both learning rates (try half), add label smoothing 0.1, or use the "
        "WGAN-GP objective, which is more stable.")),
    (("out of memory",),
     N_("Use a smaller batch size or fewer filters, or train on the CPU.")),
    (("disk is full",), N_("Free some disk space, then press Resume: the last checkpoint is kept.")),
    (("zip", "image", "data_dir", "dataset", "download"),
     N_("Check the data: for your own images upload a zip of .png or .jpg files, or pick a built-in "
        "dataset.")),
    (("device", "cuda", "mps"), N_("Choose the device 'auto' or 'cpu' under Execution on the Train page.")),
)


def failure_advice(error: str) -> str:
    """One plain sentence on what to try after a failure with the message ``error`` (a message
    id: translate it where it is shown)."""
    low = (error or "").lower()
    for words, advice in _ADVICE:
        if any(w in low for w in words):
            return advice
    return N_("Read the worker's log below for details. Resume continues from the last checkpoint; "
              "if it fails again, start a new run with different settings.")


# Message ids: translate them where they are shown.
STATE_EXPLAINED = {
    "queued": N_("Waiting for a free training slot: it starts when the run before it ends."),
    "running": N_("Training now. You can close this tab: the run goes on and this page finds it again."),
    "paused": N_("Paused: the worker keeps its place and continues when you press Resume."),
    "finished": N_("Finished every epoch."),
    "stopped": N_("Stopped on request after saving a checkpoint; Resume continues from there."),
    "failed": N_("Training stopped with an error."),
    "interrupted": N_("The training process ended without finishing (the server restarted or the "
                      "machine slept). Resume continues from the last checkpoint."),
}
