"""What every page shares: where runs live, picking a run (kept in the URL), the job manager.

Runs are addressed by a key ``"<root>/<run-id>"`` where root is ``runs`` (the user's own, writable)
or ``pretrained`` (shipped with the app, read-only). Keys from the URL or a form are validated
against those folders (``resolve_run``): no free-text server paths ever reach the file system.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import streamlit as st

from playground.jobs import JobManager
from playground.runs import Run, RunError, list_runs, resolve_run
from playground.ui.i18n import lang, tr, tx
from playground.ui.runinfo import display_name, state_name, what_of

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Page scripts, relative to streamlit_app.py (for st.switch_page / st.page_link). The router
# registers the optional ones only when their file exists.
PAGES = {
    "home": "playground/ui/pages/home.py",
    "train": "playground/ui/pages/train.py",
    "watch": "playground/ui/pages/watch.py",
    "explore": "playground/ui/pages/explore.py",
    "compare": "playground/ui/pages/compare.py",
    "toy": "playground/ui/pages/toy.py",
    "runs": "playground/ui/pages/runs.py",
}


def page_available(name: str) -> bool:
    """Whether the page script ``name`` (a key of PAGES) is part of this installation."""
    return (PROJECT_ROOT / PAGES[name]).is_file()


def runs_root() -> Path:
    """The folder of the user's runs: $GAN_PLAYGROUND_RUNS or ./runs under the project."""
    return Path(os.environ.get("GAN_PLAYGROUND_RUNS", PROJECT_ROOT / "runs"))


def pretrained_root() -> Path:
    return Path(os.environ.get("GAN_PLAYGROUND_PRETRAINED", PROJECT_ROOT / "pretrained"))


def max_jobs() -> int:
    try:
        return max(1, int(os.environ.get("GAN_PLAYGROUND_MAX_JOBS", "1")))
    except ValueError:
        return 1


ROOTS = ("pretrained", "runs")


@dataclass(frozen=True)
class RunRef:
    root: str          # "pretrained" or "runs"
    run: Run

    @property
    def key(self) -> str:
        return f"{self.root}/{self.run.id}"

    @property
    def readonly(self) -> bool:
        return self.root == "pretrained"


def _root_path(root: str) -> Path:
    return pretrained_root() if root == "pretrained" else runs_root()


def _pretrained_order() -> list[str]:
    """The order in which pretrained runs are shown (``pretrained/order.txt``, one id a line):
    the best first impression for a class first; runs not listed follow in name order."""
    try:
        return [ln.strip() for ln in (pretrained_root() / "order.txt").read_text().splitlines() if ln.strip()]
    except OSError:
        return []


def all_runs() -> list[RunRef]:
    """Pretrained runs first (in their curated order), then the user's runs, newest first."""
    sync_jobs()
    order = {run_id: i for i, run_id in enumerate(_pretrained_order())}
    pre = sorted(list_runs(pretrained_root()), key=lambda r: (order.get(r.id, len(order)), r.id))
    return [RunRef("pretrained", r) for r in pre] + [RunRef("runs", r) for r in list_runs(runs_root())]


def get_run(key: str | None) -> RunRef | None:
    """The run named by ``key`` ("runs/<id>" or "pretrained/<id>"), or None if it is not valid."""
    if not key or not isinstance(key, str) or key.count("/") != 1:
        return None
    root, run_id = key.split("/", 1)
    if root not in ROOTS:
        return None
    try:
        return RunRef(root, resolve_run(_root_path(root), run_id))
    except RunError:
        return None


def run_label(ref: RunRef) -> str:
    try:
        cfg = ref.run.read_config()
        st_ = ref.run.read_status()
        name = display_name(ref.run, cfg, lang())
        prefix = "★ " if ref.readonly else ""
        # plain text: select-box options do not interpret Markdown
        epoch, epochs = int(st_.get("epoch") or 0), int(st_.get("epochs") or cfg.epochs)
        state = state_name(ref.run.state())
        if ref.readonly:   # a pretrained run's name already says what it is: the name stays whole
            return tx("{name} — epoch {epoch}/{epochs} ({state})", name=prefix + name, epoch=epoch,
                      epochs=epochs, state=state)
        # where it stands before what it is: a narrow screen cuts the end of the line, not the state
        return tx("{name} — epoch {epoch}/{epochs} ({state}) — {what}", name=prefix + name,
                  what=what_of(cfg.arch, cfg.objective, cfg.dataset, cfg.conditional, family=cfg.family),
                  epoch=epoch, epochs=epochs, state=state)
    except (RunError, ValueError, TypeError):
        return tx("{key} (unreadable)", key=ref.key)


LAST_RUN_COOKIE = "gan_playground_last_run"
_LAST_RUN = "_last_run_looked_at"   # session-state key: this tab's memory of the same


def live_run_key() -> str | None:
    """The newest run of this server that is training (or paused, or waiting in the queue)."""
    runs = list_runs(runs_root())   # newest first
    for states in (("running", "paused"), ("queued",)):
        for run in runs:
            if run.state() in states:
                return f"runs/{run.id}"
    return None


def last_run_key() -> str | None:
    """The run this browser looked at last on a page that remembers it (this tab first, then the
    browser's cookie, which new tabs read), if it still exists."""
    key = st.session_state.get(_LAST_RUN)
    if not key:
        try:
            key = unquote(st.context.cookies.get(LAST_RUN_COOKIE) or "")
        except Exception:   # no cookies outside a browser session
            key = None
    return key if get_run(key) else None


def remember_run(key: str) -> None:
    """Remember ``key`` for this tab and, in a cookie, for tabs this browser opens later."""
    if st.session_state.get(_LAST_RUN) == key and st.session_state.get("_last_run_cookie") == key:
        return
    st.session_state[_LAST_RUN] = key
    st.session_state["_last_run_cookie"] = key
    value = json.dumps(f"{LAST_RUN_COOKIE}={quote(key, safe='')}; path=/; max-age=31536000; SameSite=Lax")
    with st.sidebar:   # nothing visible; in the sidebar it moves nothing on the page
        st.html(f"<script>document.cookie = {value};</script>", unsafe_allow_javascript=True)


def run_picker(label: str | None = None, param: str = "run", key: str | None = None,
               default: str | None = None, remember: bool = False) -> RunRef | None:
    """A select box of all runs whose choice lives in the URL (``?run=<key>``), so a refresh or a
    second browser opens the same run. An invalid key in the URL is ignored with a warning.

    ``remember``: with no run in the URL, open the newest live run of this server, else the run
    this browser looked at last, else ``default`` (else the first run: the flagship pretrained
    one); and remember the run shown. The Watch page says a closed tab finds its run again: a new
    tab opened from the sidebar has no ``?run=``, so this is what makes that true."""
    refs = all_runs()
    if not refs:
        return None
    keys = [r.key for r in refs]
    if remember and not st.query_params.get(param):
        default = live_run_key() or last_run_key() or default
    wanted = st.query_params.get(param) or default
    if wanted and wanted not in keys:
        # the URL's text is shown as text: escaped by tr, never a link or an image
        st.warning(tr("There is no run called “{name}”; showing another one instead.", name=wanted))
        wanted = None
    index = keys.index(wanted) if wanted else 0
    labels = {r.key: run_label(r) for r in refs}
    # The box keeps showing the text its choice had when it was drawn, even when the label changes
    # (state, epoch): a widget key of its own per label text draws it afresh. The choice itself
    # lives in the URL, so nothing is lost.
    shown_label = labels.get(keys[index], "")
    chosen = st.selectbox(label or tr("Run"), keys, index=index, format_func=lambda k: labels.get(k, k),
                          key=f"{key or 'picker_' + param}::{zlib.crc32(shown_label.encode()):08x}")
    if st.query_params.get(param) != chosen:
        st.query_params[param] = chosen
    if remember:
        remember_run(chosen)
    return refs[keys.index(chosen)]


def job_manager() -> JobManager:
    """A fresh manager each call: its state lives in the run folders, not in this process. Its
    backend (local, or a Ray cluster) comes from ``GAN_PLAYGROUND_BACKEND``."""
    return JobManager(runs_root(), max_jobs=max_jobs())


def sync_jobs() -> None:
    """Ray backend: runs whose cluster job ended or was lost read as interrupted (the manager asks
    the cluster at most every few seconds). A cluster that cannot be reached changes nothing, and
    nothing about it is shown here: its address is for the lab's administrator."""
    try:
        job_manager().sync()
    except (OSError, ValueError):
        pass
