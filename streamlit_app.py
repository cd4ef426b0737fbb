"""GAN Playground dashboard: `streamlit run streamlit_app.py`. A router only; pages live in
playground/ui/pages/ and read run folders (see README "Run folder format")."""

# Imported once here, before any page runs: two sessions drawing their first Plotly chart at the
# same moment could otherwise see a half-imported pandas.
from pathlib import Path

import pandas  # noqa: F401

import streamlit as st

from playground.i18n import N_
from playground.ui import layout
from playground.ui.common import PAGES, page_available
from playground.ui.i18n import language_switch, remember_language, tx

# The tab icon is a file of the project's own: a material-symbol or emoji icon would be fetched
# from the internet, which a classroom offline does not have.
_ICON = Path(__file__).resolve().parent / "playground" / "ui" / "assets" / "icon.png"
st.set_page_config(page_title="GAN Playground", page_icon=str(_ICON), layout="wide")

# (page key, title, icon); optional pages are listed only when their script is installed.
_ORDER = [
    ("home", N_("Home"), ":material/home:"),
    ("train", N_("Train"), ":material/model_training:"),
    ("watch", N_("Watch"), ":material/monitoring:"),
    ("explore", N_("Latent explorer"), ":material/tune:"),
    ("compare", N_("Compare"), ":material/compare:"),
    ("toy", N_("2D toy view"), ":material/scatter_plot:"),
    ("runs", N_("Runs"), ":material/folder_open:"),
]

# Less empty space above each page, so a laptop screen shows the charts and grids.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 2.5rem;}</style>")

# The language lives in the URL (?lang=pt|en) and this tab's session; the switch is in the sidebar.
remember_language()
pages = [st.Page(PAGES[key], title=tx(title), icon=icon, default=(key == "home"))
         for key, title, icon in _ORDER if key == "home" or page_available(key)]
page = st.navigation(pages)
language_switch()
layout.apply()   # presentation mode (?present=1) and the CSS that fits grids to the screen
page.run()
