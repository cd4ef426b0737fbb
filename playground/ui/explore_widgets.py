"""Widgets shared by the latent explorer, the compare page and the 2D toy page.

``*_ui`` functions draw widgets and return what the learner chose. Enlarged grids come from
``playground.ui.widgets.grid_png`` (cached by file and mtime), the one place that reads them.
"""

from __future__ import annotations

import streamlit as st

from playground.runs import RunError
from playground.ui.common import PAGES, RunRef, run_label
from playground.ui.i18n import lang, tr, tx

TOY_PAGE = PAGES["toy"]
TRAIN_PAGE = PAGES["train"]


def is_toy(ref: RunRef) -> bool:
    try:
        return ref.run.read_config().is_toy
    except (RunError, ValueError):
        return False


def picker_ui(label: str, refs: list[RunRef], param: str, default: str | None = None,
              key: str | None = None) -> RunRef:
    """A select box over ``refs`` (a filtered list, e.g. toy runs only) whose choice lives in the URL
    query parameter ``param``. A URL naming a run outside the list falls back quietly: the same
    ``?run=`` is shared with pages that list every run."""
    keys = [r.key for r in refs]
    wanted = st.query_params.get(param)
    if wanted not in keys:
        wanted = default if default in keys else keys[0]
    labels = {r.key: run_label(r) for r in refs}
    chosen = st.selectbox(label, keys, index=keys.index(wanted), format_func=lambda k: labels.get(k, k),
                          key=key or f"xpicker_{param}")
    if st.query_params.get(param) != chosen:
        st.query_params[param] = chosen
    return refs[keys.index(chosen)]


def epoch_ui(label: str, epochs: list[int], key: str, param: str | None = "epoch",
             default: int | None = None, help: str | None = None) -> int:
    """A slider over the saved ``epochs`` (kept in the URL under ``param``); the newest by default."""
    wanted = default if default in epochs else epochs[-1]
    if param:
        try:
            from_url = int(st.query_params.get(param, ""))
        except ValueError:
            from_url = None
        if from_url in epochs:
            wanted = from_url
    if len(epochs) == 1:
        st.caption(tr("Epoch {epoch} is the only one saved so far.", epoch=epochs[0]))
        chosen = epochs[0]
    else:
        chosen = st.select_slider(label, options=epochs, value=wanted, key=key, help=help,
                                  format_func=lambda e, untrained=tx("0 (untrained)"): f"{e}" if e else untrained)
    if param and st.query_params.get(param) != str(chosen):
        st.query_params[param] = str(chosen)
    return int(chosen)


def link_or_text(page: str, label: str, query: dict | None = None, text: str = "") -> None:
    """A link to another page of the app; plain text when the page is not registered (a page
    script run on its own, as in tests, has no navigation to link into)."""
    try:
        st.page_link(page, label=label, query_params={**(query or {}), "lang": lang()},
                     icon=":material/arrow_forward:")
    except Exception:  # Streamlit raises its own not-found error types when the page is unknown
        st.markdown(text or label)


def show_png(png: bytes, caption: str | None = None, width: int | str = "content") -> None:
    """Show PNG bytes as they are: Streamlit's "auto" format would re-encode an image without
    alpha as JPEG, which smears crisp enlarged pixels and costs time on every redraw."""
    st.image(png, caption=caption, width=width, output_format="PNG")


def no_runs_hint() -> None:
    st.info(tr("There are no runs yet. Start one on the Train page: the 'classroom' preset shows "
               "recognisable clothes within a few minutes on a laptop CPU."))
    link_or_text(TRAIN_PAGE, tr("Go to the Train page"), text=tr("Open the **Train** page in the menu."))
