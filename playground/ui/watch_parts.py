"""The pieces of the Watch page: run controls, live settings, the live view and the epoch scrubber.

The live view is a fragment that polls the run folder every two seconds while the run is active
and not at all once it has ended; it reruns the whole page when the run's state changes or a new
epoch's grid appears, so the buttons and the scrubber follow.
"""

from __future__ import annotations

import time

import plotly.graph_objects as go
import streamlit as st

from playground.config import ConfigError, TrainConfig
from playground.live import BY_NAME as LIVE_BY_NAME, LIVE_SETTINGS
from playground.registry import FAMILIES
from playground.runs import ACTIVE_STATES, RunError, effective_state
from playground.ui import charts, explain, exports, layout, runinfo
from playground.i18n import render
from playground.ui import form
from playground.ui.common import PAGES, RunRef, job_manager
from playground.ui.i18n import error_text, esc, lang, num, shown, tr, trn, tx
from playground.ui.widgets import metrics_for, show_grid

POLL_S = 2.0
PLAY_SECONDS = 8.0      # a whole progression plays in about this long (at most 0.5 s a frame)


def controls(ref: RunRef, state: str, status: dict, cfg: TrainConfig) -> None:
    """Pause / resume / stop, resume an ended run, or continue a finished one for more epochs."""
    run, manager = ref.run, job_manager()
    wanted = run.read_control().get("state")
    # buttons as wide as their words (a row of columns cut "Pausar" to "P…" at 1366 px)
    row = st.container(horizontal=True)
    if state == "running":
        if row.button(tr("Pause"), icon=":material/pause:", disabled=wanted == "paused"):
            manager.pause(run)
            st.rerun()
    elif state == "paused":
        if row.button(tr("Resume"), icon=":material/play_arrow:", type="primary"):
            manager.unpause(run)
            st.rerun()
    if state in ("running", "paused"):
        if row.button(tr("Stop"), icon=":material/stop:", disabled=wanted == "stopped",
                      help=tr("Saves a checkpoint and ends the run; Resume continues it later.")):
            manager.stop(run)
            st.rerun()
        asked = {"paused": tr("Asked to pause; the worker does it after its current step…"),
                 "stopped": tr("Asked to stop; the worker does it after its current step…"),
                 "running": tr("Asked to resume; the worker does it after its current step…")}
        if wanted in asked and wanted != state:
            st.caption(asked[wanted])
    elif state == "queued":
        if row.button(tr("Remove from queue"), icon=":material/close:"):
            manager.stop(run)
            st.rerun()
    elif state in ("stopped", "interrupted", "failed"):
        if row.button(tr("Resume"), icon=":material/play_arrow:", type="primary",
                      help=tr("Continue from the newest checkpoint.")):
            _resume(manager, run)
    elif state == "finished":
        # the button's column sized to its words: at 1024 px a narrow one cut it to its first letter
        cols = st.columns([2, 3, 1])
        done = int(status.get("epoch") or cfg.epochs)
        more = cols[0].number_input(tr("Train until epoch"), min_value=done + 1, value=done + 5, step=1,
                                    key=f"more::{ref.key}::{done}")
        cols[1].write("")
        if cols[1].button(tr("Continue training"), icon=":material/fast_forward:", width="content"):
            _resume(manager, run, epochs=int(more))


def new_run_button(ref: RunRef, cfg: TrainConfig) -> None:
    """Open the Train form filled with this run's settings (a pretrained run cannot be resumed:
    its training checkpoints are not shipped; a new run starts from its settings instead)."""
    if st.button(tr("New run from these settings"), icon=":material/content_copy:",
                 key=f"copy::{ref.key}",
                 help=tr("Opens the Train page with every setting of this run filled in; change what "
                         "you like and start.")):
        form.load_settings(cfg.to_dict())
        st.switch_page(PAGES["train"], query_params={"lang": lang()})


def _resume(manager, run, epochs=None) -> None:
    try:
        started = manager.resume(run, epochs=epochs)
    except (RunError, ValueError, OSError) as e:
        st.error(tr("Could not resume: {error}", error=error_text(e)))
        return
    if not started:
        slots = manager.slots(run)[1]
        st.warning(trn("The only training slot is busy; try again when a run ends.",
                       "All {n} training slots are busy; try again when a run ends.", slots))
        return
    st.rerun()


def live_settings(ref: RunRef, status: dict, cfg: TrainConfig) -> None:
    """A small form of the live settings (playground/live.py), sent to the running worker; each
    widget is drawn by the Train form's own field helper.

    A refused value's message stands under its field, with the field's name and allowed range,
    until the value is changed: it lives in the session, so the page's live updates (a full
    rerun at every new epoch) do not wipe it."""
    live = status.get("live") or {}
    current = {s.name: s.kind(live.get(s.name, getattr(cfg, s.name))) for s in LIVE_SETTINGS}
    prefix = f"live::{ref.key}::"
    refused: dict = st.session_state.setdefault(f"live_refused::{ref.key}", {})   # field -> (typed, message)
    with st.expander(tr("Change settings while it trains"), expanded=bool(refused)):
        st.caption(tr(explain.LIVE_SETTINGS))
        with st.form(f"live::{ref.key}", border=False):
            form.init_fields(current, prefix=prefix)
            slots, typed = {}, {}
            for col, s in zip(st.columns(len(LIVE_SETTINGS)), LIVE_SETTINGS):
                with col:
                    typed[s.name] = form.field(s.name, current[s.name], slots, prefix=prefix)
            # the messages under the row, across the form's width (a column is too narrow to read them)
            slots = {s.name: st.empty() for s in LIVE_SETTINGS}
            submitted = st.form_submit_button(tr("Apply"))
        values, errors = form.parse_typed(typed)
        for name, (value, message) in list(refused.items()):
            if typed.get(name) == value:
                errors.setdefault(name, message)
            else:
                refused.pop(name)   # changed since it was refused
        form.show_errors(slots, errors, named=True)
        if not submitted or errors:
            return
        changed = {k: v for k, v in values.items() if v != current[k]}
        if not changed:
            st.info(tr("Nothing changed."))
            return
        try:
            job_manager().set_live(ref.run, **changed)
        except ConfigError as e:
            for k, message in e.errors.items():
                if k in changed:
                    refused[k] = (typed[k], message)
            st.rerun()   # the messages stand under their fields
        except RunError as e:
            st.error(shown(e.args[0] if e.args else str(e)))
        else:
            sent = ", ".join(f"{tx(LIVE_BY_NAME[k].label)} → {num(v, significant=4)}" for k, v in changed.items())
            st.success(tr("Sent: {changes}. The charts mark it once the worker applies it.", changes=sent))


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(run_path: str, inode, offset: int, spe: int, objective: str, selected, language: str, _m):
    """Both charts of a run, built once per new metrics and shared by every session watching it.

    The metrics file only grows, so sessions that have read it up to the same byte ``offset`` of
    the same file (``inode``) hold the same records: ten students watching one run cost one build
    per update instead of ten. Streamlit copies a figure into each page's message without
    changing it, so sharing the objects is safe."""
    return (charts.loss_figure(_m.steps, _m.epochs, _m.changes, spe, selected, lang=language),
            charts.d_output_figure(_m.steps, _m.epochs, objective, _m.changes, spe, selected, lang=language))


def live_view(ref: RunRef, cfg: TrainConfig, shown_state: str, shown_epochs: int, selected) -> None:
    """Progress, warnings, both charts and the log; the body of the polling fragment."""
    run = ref.run
    status = run.read_status()
    state = effective_state(status)
    if state != shown_state or len(run.sample_epochs()) != shown_epochs:
        st.rerun()   # the whole page follows: buttons, scrubber, header
    text = tr("Epoch {epoch}/{epochs} · step {step}", epoch=int(status.get("epoch") or 0),
              epochs=int(status.get("epochs") or cfg.epochs), step=int(status.get("step") or 0))
    if status.get("images_per_s"):
        text += " · " + tr("{speed} images/s", speed=num(status["images_per_s"], decimals=0))
    if state == "running" and status.get("eta_s") is not None:
        text += " · " + tr("about {duration} left", duration=runinfo.human_duration(status["eta_s"]))
    if status.get("message") and state in ACTIVE_STATES:
        text += " · " + shown(status.get("message_id") or status["message"])
    st.progress(runinfo.progress(status), text=text)

    m = metrics_for(ref.key, run)
    for ev in _recent_events(m.events):
        st.warning(ev, icon=":material/warning:")
    family_charts(ref, cfg, m, selected)   # what the family adds comes first: it is that run's lesson
    if not m.steps and not m.epochs:
        st.info(tr("The charts appear after the first logged steps."))
    else:
        spe = int(status.get("steps_per_epoch") or 0)
        loss, d_out = _figures(str(run.path), m.inode, m.offset, spe, cfg.objective, selected, lang(), m)
        if layout.presenting():   # a projector: taller charts, type readable from the back row
            loss, d_out = (go.Figure(f).update_layout(height=460, font=dict(size=17)) for f in (loss, d_out))
        st.plotly_chart(loss, key=f"loss::{ref.key}", config={"displaylogo": False})
        st.caption(tr(explain.LOSSES) + (" " + tr(explain.CHANGES) if m.changes else ""))
        st.plotly_chart(d_out, key=f"dout::{ref.key}", config={"displaylogo": False})
        st.caption(tr(explain.CRITIC) if charts.is_critic(cfg.objective, m.steps or m.epochs)
                   else tr(explain.PROBABILITIES))
    with layout.clutter(), st.expander(tr("The worker's log")):
        st.code(runinfo.log_tail(run) or tx("(empty so far)"), language=None)


def family_charts(ref: RunRef, cfg: TrainConfig, m, selected) -> None:
    """The charts of the run's family's own metrics (registry.Family.charts), each with its caption."""
    fam = FAMILIES.get(cfg.family)
    for i, chart in enumerate(fam.charts if fam else ()):
        records = m.of_type(chart.record_type)
        if not any(k in r for r in records for k, _ in chart.series):
            continue
        fig = charts.family_figure(chart, records, selected, lang=lang())
        if layout.presenting():
            fig.update_layout(height=420, font=dict(size=17))
        st.plotly_chart(fig, key=f"family{i}::{ref.key}", config={"displaylogo": False})
        if chart.caption:
            st.caption(tr(chart.caption))


def event_text(ev: dict, language: str) -> str:
    """A failure-mode warning in ``language`` (Markdown, escaped): its message and advice from the
    message ids the worker stored, or the English text an older run stored."""
    def part(key: str) -> str:
        return render(ev.get(key + "_id"), language, fallback=ev.get(key) if isinstance(ev.get(key), str) else "",
                      fmt=_event_value(language))
    text = esc(part("message"))
    advice = part("advice")
    if advice:
        text += " " + esc(tx("What to try: {advice}", advice=advice))
    if isinstance(ev.get("epoch"), int):
        text = esc(tx("Epoch {epoch}:", epoch=ev["epoch"])) + " " + text
    return text


def _event_value(language: str):
    from playground.i18n import format_number

    def fmt(v):
        if isinstance(v, float):
            return format_number(v, language, significant=3)
        if isinstance(v, int) and not isinstance(v, bool):
            return format_number(v, language)
        return v
    return fmt


def _recent_events(events: list[dict], k: int = 3) -> list[str]:
    """The last ``k`` distinct warning messages from 'event' records, in the page's language."""
    out: list[str] = []
    language = lang()
    for ev in reversed(events):
        text = event_text(ev, language)
        if ev.get("message") or ev.get("message_id"):
            if text not in out:
                out.append(text)
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
    playing = ss.get(f"play::{ref.key}")
    if playing in epochs:
        ss[key] = playing        # "Play all epochs" moves the slider, so the charts' marker follows
    if len(epochs) == 1:
        return epochs[0]
    return st.select_slider(tr("Epoch"), options=epochs, key=key,
                            help=tr("Every saved epoch's grid; the loss chart marks the one shown."))


def grid_caption(epoch: int) -> str:
    """The caption under a grid: epoch 0 says what it is, since it can look like nothing at all."""
    if epoch == 0:
        return tr("Epoch 0: what the generator draws before any training step")
    return tr("Epoch {epoch}", epoch=epoch)


def player(ref: RunRef, epochs: list[int], epoch: int, present: bool = False) -> None:
    """The grid of ``epoch``, a play button that steps through every epoch, and downloads.

    Playing reruns the whole page once per epoch with the slider on that epoch, so the loss
    chart's epoch marker follows the grid and a Stop button can end it at any frame (a loop inside
    one run could not be stopped and left the charts behind)."""
    run, ss = ref.run, st.session_state
    pkey = f"play::{ref.key}"
    playing = ss.get(pkey)
    with st.container(key="watch_grid"):   # sized by the page's CSS to fit the screen
        show_grid(run, epoch, caption=grid_caption(epoch))
    if playing is None:
        if st.button(tr("Play all epochs"), icon=":material/play_arrow:", key=f"play_btn::{ref.key}",
                     disabled=len(epochs) < 2, help=tr("Show every saved epoch in turn, here.")):
            ss[pkey] = epochs[0]
            st.rerun()
    elif st.button(tr("Stop playing"), icon=":material/stop:", key=f"stop_btn::{ref.key}"):
        ss.pop(pkey, None)   # the slider stays on the epoch reached
        st.rerun()
    if not present:
        # buttons as wide as their labels, wrapping onto a second line in a narrow column
        row = st.container(horizontal=True)
        c = [row, row]
        c[0].download_button(tr("This epoch (PNG)"), lambda: exports.display_png(run.sample_path(epoch)),
                             file_name=tx("{run}_epoch_{epoch}.png", run=run.id, epoch=f"{epoch:03d}"),
                             mime="image/png", width="content",
                             on_click="ignore", icon=":material/download:", key=f"png::{ref.key}")
        frame = tx("epoch {epoch}").replace("{", "{{").replace("}", "}}").replace("{{epoch}}", "{epoch}")
        c[1].download_button(tr("All epochs (GIF)"), lambda: exports.progression_gif(run, label=frame),
                             file_name=tx("{run}_progression.gif", run=run.id), mime="image/gif", width="content",
                             on_click="ignore", icon=":material/gif_box:", key=f"gif::{ref.key}",
                             help=tr("At most {n} epochs, evenly spread, so the file stays small to share.",
                                     n=exports.GIF_MAX_FRAMES))
        if len(epochs) > exports.GIF_MAX_FRAMES:
            c[1].download_button(tr("Every epoch (larger GIF)"),
                                 lambda: exports.progression_gif(run, max_frames=None, label=frame),
                                 file_name=tx("{run}_progression_all.gif", run=run.id), mime="image/gif",
                                 width="content", on_click="ignore", icon=":material/gif_box:",
                                 key=f"gif_all::{ref.key}")
    if playing is not None:
        started = ss.setdefault(f"play_t::{ref.key}", time.monotonic())
        time.sleep(max(0.0, min(0.5, PLAY_SECONDS / len(epochs)) - (time.monotonic() - started)))
        later = [e for e in epochs if e > playing]
        if later:
            ss[pkey] = later[0]
            ss[f"play_t::{ref.key}"] = time.monotonic()
        else:
            ss.pop(pkey, None)
            ss.pop(f"play_t::{ref.key}", None)
        st.rerun()
