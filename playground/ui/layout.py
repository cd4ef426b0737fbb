"""Screen layout the pages share: presentation mode (kept in the URL) and the CSS that sizes the
sample grids to the screen.

Presentation mode (``?present=1``) is for a projector: larger type, no sidebar, and everything a
teacher does not talk about (pickers, forms, buttons, downloads, the log) hidden. Pages put such
things in ``clutter()`` containers; the mode's CSS hides them, so the widgets keep their values and
the page keeps working underneath. Being in the URL, a reload or a copied link stays in the mode.
"""

from __future__ import annotations

import streamlit as st

from playground.ui.i18n import tr

PRESENT_PARAM = "present"
_clutter_count = "_clutter_n"

# A grid never grows past the screen's height: it starts this far below the top of the page
# (the run picker, the title above it and the epoch slider) at most; the rest is its own.
_GRID_TOP = {"normal": 310, "present": 250}

_BASE_CSS = """
<style>
/* the newest grid: whole on the first screen, centred in its column, never wider than it */
.st-key-watch_grid img {
  max-height: calc(100vh - %(top)dpx); width: auto !important; max-width: 100%%;
  margin: 0 auto; display: block; object-fit: contain;
}
.st-key-watch_grid [data-testid="stImage"] { align-items: center; }
.st-key-cmp_grid_A img, .st-key-cmp_grid_B img {
  max-height: calc(100vh - 340px); width: auto !important; max-width: 100%%; margin: 0 auto; display: block;
}
/* an old 1024-px projector: a narrower menu leaves the page the room for names and grids */
@media (max-width: 1200px) {
  section[data-testid="stSidebar"] { width: 220px !important; min-width: 220px !important; }
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem !important; padding-right: 1.5rem !important; }
  .js-plotly-plot .gtitle { font-size: 12px !important; }   /* a chart's title stays within it */
}
/* select boxes: a run's whole name fits more often in slightly smaller type */
[data-testid="stSelectbox"] input { font-size: 0.85rem; }
</style>
"""

_PRESENT_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stSidebar"], [data-testid="stExpandSidebarButton"],
[data-testid="stSidebarCollapseButton"], [data-testid="stHeader"],
[class*="st-key-clutter"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2rem 1rem 2rem !important; max-width: 100% !important; }
/* the way out stays in the top right corner, taking no room from the grid */
.st-key-present_off { position: fixed; top: 0.3rem; right: 1rem; z-index: 1000; width: auto !important; }
</style>
"""


def presenting() -> bool:
    return st.query_params.get(PRESENT_PARAM) == "1"


def clutter():
    """A container for what presentation mode hides (it stays on the page, only out of sight)."""
    n = st.session_state.get(_clutter_count, 0) + 1
    st.session_state[_clutter_count] = n
    return st.container(key=f"clutter_{n}")


def _set_presenting(on: bool) -> None:
    if on:
        st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


def apply() -> None:
    """The router calls this on every page: the CSS, and the mode's switch (in the sidebar, or at
    the top of the page while presenting, where the sidebar is hidden)."""
    st.session_state[_clutter_count] = 0
    on = presenting()
    st.html(_BASE_CSS % {"top": _GRID_TOP["present" if on else "normal"]})
    help_text = tr("For a projector: larger type, no sidebar and no forms, the grid and the charts "
                   "as large as the screen allows. The address keeps it, so a reload stays in it.")
    if on:
        st.html(_PRESENT_CSS)
        if st.button(tr("Leave presentation mode"), icon=":material/close_fullscreen:", key="present_off",
                     type="tertiary"):
            _set_presenting(False)
            st.rerun()
    else:
        with st.sidebar:
            st.toggle(tr("Presentation mode"), value=False, key="present_on", help=help_text,
                      on_change=_switch_on)


def _switch_on() -> None:
    if st.session_state.get("present_on"):
        _set_presenting(True)
        st.session_state["present_on"] = False   # off again when the mode is left
