"""Small Streamlit pieces the pages share: grids shown large, run cards, state badges, the
per-session metric cache, and links between pages carrying the run in the URL."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from playground.config import TOY_NAMES
from playground.runs import Run
from playground.ui import exports, runinfo
from playground.i18n import N_
from playground.ui.common import PAGES, RunRef, page_available
from playground.ui.i18n import esc, lang, tr
from playground.ui.metrics_cache import MetricsCache

GAN_IN_ONE_SENTENCE = N_(
    "A **generative adversarial network** is two neural networks trained against each other: a "
    "**generator** turns random noise into images, and a **discriminator** tries to tell those "
    "fakes from real images. Each one's mistakes are the other's lesson, until the fakes look real.")


@st.cache_data(max_entries=256, show_spinner=False)
def _display_png(path: str, mtime_ns: int, width: int) -> bytes:
    return exports.display_png(Path(path), width)


def grid_png(path: Path, width: int = exports.DISPLAY_WIDTH) -> bytes | None:
    """The grid at ``path`` upscaled with nearest neighbour (cached by file and mtime), or None."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    try:
        return _display_png(str(path), mtime, width)
    except OSError:   # a half-written or removed file: the next poll shows it
        return None


HOLD_SECONDS = 120.0  # a grid any page showed stays fetchable this long (see GridHolder)
HOLD_MOST = 200       # and at most this many such grids are held (a few MB)


class GridHolder:
    """Keeps every grid any page showed in the last ``seconds`` in Streamlit's media store.

    Streamlit serves an image from memory and drops it as soon as no session shows it. While a run
    trains, every open page replaces its grid each epoch; a browser slowed down (a busy classroom
    server, a weak laptop, a page that reconnects) may ask for a grid some epochs after it was
    replaced, or after its session ended, and get a 404: a broken image until the next update.
    The holder registers each grid shown under a holder of its own (not a session, so no session's
    end or full rerun drops it) and lets it go ``seconds`` after it was last shown, or when more
    than ``most`` are held. Identical grids are stored once, whoever shows them.

    It uses the media store's internals (``_lock``, ``_storage``, ``_file_metadata``,
    ``_files_by_session_and_coord``); ``hold`` returns False when they are not there, and the
    caller falls back to ``hold_recent`` (public API, per session)."""

    HOLDER = "gan-playground-recent-grids"

    def __init__(self, seconds: float = HOLD_SECONDS, most: int = HOLD_MOST, clock=time.monotonic):
        self.seconds, self.most, self.clock = seconds, most, clock
        self.shown: OrderedDict[str, float] = OrderedDict()  # file id -> when last shown, oldest first
        self._lock = threading.Lock()

    def hold(self, media_file_mgr, data: bytes) -> bool:
        try:
            from streamlit.runtime.media_file_manager import MediaFileMetadata
            from streamlit.runtime.media_file_storage import MediaFileKind

            mgr = media_file_mgr
            with self._lock, mgr._lock:
                file_id = mgr._storage.load_and_get_id(data, "image/png", MediaFileKind.MEDIA, None)
                mgr._file_metadata.setdefault(file_id, MediaFileMetadata(kind=MediaFileKind.MEDIA))
                refs = mgr._files_by_session_and_coord[self.HOLDER]
                refs[file_id] = file_id
                now = self.clock()
                self.shown[file_id] = now
                self.shown.move_to_end(file_id)
                while self.shown:
                    oldest, shown_at = next(iter(self.shown.items()))
                    if len(self.shown) <= self.most and now - shown_at <= self.seconds:
                        break
                    del self.shown[oldest]
                    refs.pop(oldest, None)  # collected by Streamlit once no session shows it
            return True
        except Exception:  # another Streamlit: only this protection is lost
            return False


_GRID_HOLDER = GridHolder()


HELD_GRIDS = 6  # earlier grids each session keeps fetchable per place (hold_recent, the fallback)


def hold_recent(state, place: str, data: bytes, media_file_mgr, keep: int = HELD_GRIDS) -> None:
    """The fallback of ``GridHolder`` (same purpose, public API only): keep the last ``keep`` grids
    this session showed at ``place`` before ``data`` in Streamlit's media store, registered as this
    session's under places of their own on every call (a full run of the page clears the session's
    media). ``state`` is the session's state; ``media_file_mgr`` Streamlit's (None: only remember)."""
    name = f"_grids_shown::{place}"
    shown = state.get(name) or []  # newest last; the grid shown now is the last one
    if not shown or shown[-1] != data:
        shown = [*shown, data][-(keep + 1):]
        state[name] = shown
    if media_file_mgr is None:
        return
    for i, old in enumerate(shown[:-1]):
        try:
            media_file_mgr.add(old, "image/png", f"gan-playground-held::{place}::{i}")
        except Exception:  # an internal API: without it, only this protection is lost
            return


def _media_file_mgr():
    try:
        from streamlit import runtime

        return runtime.get_instance().media_file_mgr if runtime.exists() else None
    except Exception:
        return None


def show_grid(run: Run, epoch: int, caption: str | None = None, width: int = exports.DISPLAY_WIDTH,
              slot=None) -> bool:
    """Show the fixed-noise grid of ``epoch`` filling its column; False when it is missing."""
    data = grid_png(run.sample_path(epoch), width)
    target = slot if slot is not None else st
    if data is None:
        target.info(tr("No sample grid for epoch {epoch} yet.", epoch=epoch))
        return False
    mgr = _media_file_mgr()
    if mgr is not None and not _GRID_HOLDER.hold(mgr, data):
        hold_recent(st.session_state, f"{run.path}::{width}", data, mgr)
    # PNG as it is: Streamlit's "auto" would re-encode it as a JPEG for every page view, smearing
    # the crisp enlarged pixels and costing the server a decode and an encode each time.
    target.image(data, caption=caption, width="stretch", output_format="PNG")
    return True


def state_badge(state: str) -> str:
    """The state's icon and its name in the page's language (Markdown)."""
    return f"{runinfo.STATE_ICONS.get(state, '')} {esc(runinfo.state_name(state, lang()))}"


def metrics_for(run_key: str, run: Run) -> MetricsCache:
    """This session's metric cache of the run, brought up to date (reads only new lines)."""
    caches: dict = st.session_state.setdefault("_metrics", {})
    cache = caches.get(run_key)
    if cache is None:
        cache = caches[run_key] = MetricsCache()
    cache.update(run)
    return cache


def page_link(name: str, label: str, run_key: str | None = None, icon: str | None = None,
              param: str = "run") -> None:
    """A link to page ``name`` (a key of PAGES) that opens ``run_key``; nothing if the page is absent."""
    if not page_available(name):
        return
    query = {"lang": lang()}
    if st.query_params.get("present") == "1":   # presentation mode follows the teacher's clicks
        query["present"] = "1"
    if run_key:
        query[param] = run_key
    st.page_link(PAGES[name], label=label, icon=icon, query_params=query)


def run_card(ref: RunRef, image_width: int = 600) -> None:
    """A bordered card: name, what it is, state, its newest grid large, links to look closer."""
    s = runinfo.summarize(ref.run, lang=lang())
    with st.container(border=True):
        star = "★ " if ref.readonly else ""
        st.markdown(f"**{esc(star + s.name)}**")
        if s.error:
            st.caption(tr("This run folder cannot be read: {error}", error=s.error))
            return
        st.caption(tr("{what} · epoch {epoch}/{epochs}", what=s.what_in(lang()), epoch=s.epoch,
                      epochs=s.epochs) + f" · {state_badge(s.state)}")
        epochs = ref.run.sample_epochs()
        if epochs:
            show_grid(ref.run, epochs[-1], caption=tr("Generated after epoch {epoch}", epoch=epochs[-1]),
                      width=image_width)
        else:
            st.info(tr("No samples yet: the first grid appears when training starts."))
        with st.container(horizontal=True):   # each link as wide as its label, wrapping on narrow cards
            page_link("watch", tr("Watch"), ref.key, icon=":material/monitoring:")
            page_link("explore", tr("Explore"), ref.key, icon=":material/tune:")
            if s.dataset in TOY_NAMES:
                page_link("toy", tr("2D view"), ref.key, icon=":material/scatter_plot:")

