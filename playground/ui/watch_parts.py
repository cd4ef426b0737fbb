"""The pieces of the Watch page: run controls, live settings, the live view and the epoch scrubber.

The live view is a fragment that polls the run folder every two seconds while the run is active
and not at all once it has ended; it reruns the whole page when the run's state changes or a new
epoch's grid appears, so the buttons and the scrubber follow.
"""

from __future__ import annotations

import time

import streamlit as st

from playground.config import ConfigError, TrainConfig
from playground.runs import ACTIVE_STATES, RunError, effective_state
from playground.ui import charts, explain, exports, runinfo
from playground.ui.common import RunRef, job_manager
from playground.ui.widgets import metrics_for, show_grid

POLL_S = 2.0
PLAY_SECONDS = 8.0      # a whole progression plays in about this long (at most 0.5 s a frame)


def controls(ref: RunRef, state: str, status: dict, cfg: TrainConfig) -> None:
    """Pause / resume / stop, resume an ended run, or continue a finished one for more epochs."""
    run, manager = ref.run, job_manager()
    wanted = run.read_control().get("state")
    cols = st.columns([1, 1, 3])
    if state == "running":
        if cols[0].button("Pause", icon=":material/pause:", disabled=wanted == "paused"):
            manager.pause(run)
            st.rerun()
    elif state == "paused":
        if cols[0].button("Resume", icon=":material/play_arrow:", type="primary"):
            manager.unpause(run)
            st.rerun()
    if state in ("running", "paused"):
        if cols[1].button("Stop", icon=":material/stop:", disabled=wanted == "stopped",
                          help="Saves a checkpoint and ends the run; Resume continues it later."):
            manager.stop(run)
            st.rerun()
        verbs = {"paused": "pause", "stopped": "stop", "running": "resume"}
        if wanted in verbs and wanted != state:
            cols[2].caption(f"Asked to {verbs[wanted]}; the worker does it after its current step…")
    elif state == "queued":
        if cols[0].button("Remove from queue", icon=":material/close:"):
            manager.stop(run)
            st.rerun()
    elif state in ("stopped", "interrupted", "failed"):
        if cols[0].button("Resume", icon=":material/play_arrow:", type="primary",
                          help="Continue from the newest checkpoint."):
            _resume(manager, run)
    elif state == "finished":
        done = int(status.get("epoch") or cfg.epochs)
        more = cols[0].number_input("Train until epoch", min_value=done + 1, value=done + 5, step=1,
                                    key=f"more::{ref.key}::{done}")
        cols[1].write("")
        if cols[1].button("Continue training", icon=":material/fast_forward:"):
            _resume(manager, run, epochs=int(more))


def _resume(manager, run, epochs=None) -> None:
    try:
        started = manager.resume(run, epochs=epochs)
    except (RunError, ValueError, OSError) as e:
        st.error(f"Could not resume: {e}")
        return
    if not started:
        st.warning(f"All {manager.slots(run)[1]} training slot(s) are busy; try again when a run ends.")
        return
    st.rerun()


def live_settings(ref: RunRef, status: dict, cfg: TrainConfig) -> None:
    """A small form for lr_g, lr_d and d_steps, sent to the running worker."""
    live = status.get("live") or {}
    with st.expander("Change settings while it trains"):
        st.caption(explain.LIVE_SETTINGS)
        with st.form(f"live::{ref.key}", border=False):
            c = st.columns(3)
            lr_g = c[0].number_input("Learning rate of G", value=float(live.get("lr_g", cfg.lr_g)),
                                     step=5e-5, format="%g")
            lr_d = c[1].number_input("Learning rate of D", value=float(live.get("lr_d", cfg.lr_d)),
                                     step=5e-5, format="%g")
            d_steps = c[2].number_input("D steps per G step", value=int(live.get("d_steps", cfg.d_steps)),
                                        step=1, format="%d")
            if st.form_submit_button("Apply"):
                new = {"lr_g": lr_g, "lr_d": lr_d, "d_steps": int(d_steps)}
                changed = {k: v for k, v in new.items() if v != live.get(k, getattr(cfg, k))}
                if not changed:
                    st.info("Nothing changed.")
                    return
                try:
                    job_manager().set_live(ref.run, **changed)
                except ConfigError as e:
                    for k, msg in e.errors.items():
                        st.error(f"{k}: {msg}")
                except RunError as e:
                    st.error(str(e))
                else:
                    sent = ", ".join(f"{charts.CHANGE_NAMES[k]} → {v:g}" for k, v in changed.items())
                    st.success(f"Sent: {sent}. The charts mark it once the worker applies it.")


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(run_path: str, inode, offset: int, spe: int, objective: str, selected, _m):
    """Both charts of a run, built once per new metrics and shared by every session watching it.

    The metrics file only grows, so sessions that have read it up to the same byte ``offset`` of
    the same file (``inode``) hold the same records: ten students watching one run cost one build
    per update instead of ten. Streamlit copies a figure into each page's message without
    changing it, so sharing the objects is safe."""
    return (charts.loss_figure(_m.steps, _m.epochs, _m.changes, spe, selected),
            charts.d_output_figure(_m.steps, _m.epochs, objective, _m.changes, spe, selected))


def live_view(ref: RunRef, cfg: TrainConfig, shown_state: str, shown_epochs: int, selected) -> None:
    """Progress, warnings, both charts and the log; the body of the polling fragment."""
    run = ref.run
    status = run.read_status()
    state = effective_state(status)
    if state != shown_state or len(run.sample_epochs()) != shown_epochs:
        st.rerun()   # the whole page follows: buttons, scrubber, header
    text = (f"Epoch {status.get('epoch', 0)}/{status.get('epochs', cfg.epochs)} · "
            f"step {status.get('step', 0):,}")
    if status.get("images_per_s"):
        text += f" · {status['images_per_s']:,.0f} images/s"
    if state == "running" and status.get("eta_s") is not None:
        text += f" · about {runinfo.human_duration(status['eta_s'])} left"
    if status.get("message") and state in ACTIVE_STATES:
        text += f" · {status['message']}"
    st.progress(runinfo.progress(status), text=text)

    m = metrics_for(ref.key, run)
    for ev in _recent_events(m.events):
        st.warning(ev, icon=":material/warning:")
    if not m.steps and not m.epochs:
        st.info("The charts appear after the first logged steps.")
    else:
        spe = int(status.get("steps_per_epoch") or 0)
        loss, d_out = _figures(str(run.path), m.inode, m.offset, spe, cfg.objective, selected, m)
        st.plotly_chart(loss, key=f"loss::{ref.key}", config={"displaylogo": False})
        st.caption(explain.LOSSES + (" " + explain.CHANGES if m.changes else ""))
        st.plotly_chart(d_out, key=f"dout::{ref.key}", config={"displaylogo": False})
        st.caption(explain.CRITIC if charts.is_critic(cfg.objective, m.steps or m.epochs)
                   else explain.PROBABILITIES)
    with st.expander("The worker's log"):
        st.code(runinfo.log_tail(run) or "(empty so far)", language=None)


def _recent_events(events: list[dict], k: int = 3) -> list[str]:
    """The last ``k`` distinct warning messages from 'event' records."""
    out: list[str] = []
    for ev in reversed(events):
        msg = ev.get("message")
        if isinstance(msg, str) and msg and msg not in out:
            out.append(f"Epoch {ev['epoch']}: {msg}" if ev.get("epoch") is not None else msg)
        if len(out) == k:
            break
    return out


def scrub_epoch(ref: RunRef, epochs: list[int]) -> int | None:
    """The epoch slider over every saved grid; it follows the newest epoch until moved back."""
    if not epochs:
        return None
    key, newest = f"scrub::{ref.key}", f"scrub_newest::{ref.key}"
    ss = st.session_state
    if key not in ss or ss[key] not in epochs:
        ss[key] = epochs[-1]
    elif ss.get(newest) not in (None, epochs[-1]) and ss[key] == ss[newest]:
        ss[key] = epochs[-1]     # it was showing the newest grid: keep doing so as epochs arrive
    ss[newest] = epochs[-1]
    if len(epochs) == 1:
        return epochs[0]
    return st.select_slider("Epoch", options=epochs, key=key,
                            help="Every saved epoch's grid; the loss chart marks the one shown.")


@st.fragment
def player(ref: RunRef, epochs: list[int], epoch: int) -> None:
    """The grid of ``epoch``, a play button that animates every epoch in place, and downloads.

    A fragment: pressing Play reruns only this part, so the charts stay as they are meanwhile."""
    run = ref.run
    slot = st.empty()
    play = st.button("Play all epochs", icon=":material/play_arrow:", key=f"play::{ref.key}",
                     disabled=len(epochs) < 2, help="Show every saved epoch in turn, here.")
    c = st.columns(2)
    c[0].download_button("This epoch (PNG)", lambda: exports.display_png(run.sample_path(epoch)),
                         file_name=f"{run.id}_epoch_{epoch:03d}.png", mime="image/png", width="stretch",
                         on_click="ignore", icon=":material/download:", key=f"png::{ref.key}")
    c[1].download_button("All epochs (GIF)", lambda: exports.progression_gif(run),
                         file_name=f"{run.id}_progression.gif", mime="image/gif", width="stretch",
                         on_click="ignore", icon=":material/gif_box:", key=f"gif::{ref.key}")
    if play:
        delay = min(0.5, PLAY_SECONDS / len(epochs))
        for e in epochs:
            show_grid(run, e, caption=f"Epoch {e}", slot=slot)
            time.sleep(delay)
    else:
        show_grid(run, epoch, caption=f"Epoch {epoch}", slot=slot)
