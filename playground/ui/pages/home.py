"""Home: what a GAN is in one sentence, then the runs worth showing a class (pretrained first),
each with its newest sample grid, and a one-click start when there is nothing yet."""

import streamlit as st

from playground.config import ConfigError
from playground.presets import PRESETS
from playground.runs import RunError
from playground.ui.common import PAGES, all_runs, job_manager
from playground.ui.i18n import error_text, lang, tr, trn
from playground.ui.widgets import GAN_IN_ONE_SENTENCE, page_link, run_card

MAX_OWN_CARDS = 6
CLASSROOM = "classroom"


def main() -> None:
    intro_ui()
    refs = all_runs()
    pretrained = [r for r in refs if r.readonly]
    own = [r for r in refs if not r.readonly]
    classroom_ui()
    links_ui(bool(refs))
    if pretrained:
        pretrained_ui(pretrained)
    if own:
        own_runs_ui(own)


def intro_ui() -> None:
    st.title("GAN Playground")
    st.markdown(tr(GAN_IN_ONE_SENTENCE))
    st.caption(tr("Every grid below shows the same random noise passed through the generator, so you can "
                  "compare epochs and runs by eye."))


def classroom_ui() -> None:
    """The one-click start: it stays at the top whatever runs exist, as a class starts here."""
    classroom = PRESETS[CLASSROOM]
    with st.container(border=True, key="classroom_start"):
        text, button = st.columns([5, 3], vertical_alignment="center")
        text.markdown(f"**{tr(classroom.title)}.** {tr(classroom.description)} "
                      + tr("You will watch blurry blobs turn into shirts, shoes and bags, epoch by epoch."))
        if button.button(tr("Train the classroom preset"), type="primary", icon=":material/play_arrow:",
                         width="stretch"):
            start_classroom()


def start_classroom() -> None:
    """Start the classroom preset and open its Watch page."""
    try:
        run = job_manager().submit(PRESETS[CLASSROOM].config())
    except (ConfigError, RunError, OSError) as e:   # RunError: a cluster that cannot be reached, say
        st.error(tr("The run could not be started: {error}", error=error_text(e)))
        return
    st.switch_page(PAGES["watch"], query_params={"run": f"runs/{run.id}", "lang": lang()})


def links_ui(any_runs: bool) -> None:
    """Links as wide as their labels, wrapping on a narrow screen (four columns cut them at 1024 px)."""
    with st.container(horizontal=True):
        page_link("train", tr("…or choose your own settings on the Train page") if not any_runs
                  else tr("Train a GAN"), icon=":material/model_training:")
        if any_runs:
            page_link("watch", tr("Watch a run"), icon=":material/monitoring:")
            page_link("compare", tr("Compare GAN and DCGAN"), icon=":material/compare:")
            page_link("explore", tr("Explore the latent space"), icon=":material/tune:")


def pretrained_ui(refs) -> None:
    st.header(tr("Trained and ready"))
    st.caption(tr("These runs ship with the app: open one to scrub through its epochs or move its "
                  "latent sliders."))
    cards_ui(refs)


def own_runs_ui(own) -> None:
    st.header(tr("Your runs"))
    cards_ui(own[:MAX_OWN_CARDS])
    if len(own) > MAX_OWN_CARDS:
        page_link("runs", trn("All {n} runs", "All {n} runs", len(own)), icon=":material/folder_open:")


def cards_ui(refs, columns: int = 3) -> None:
    for i in range(0, len(refs), columns):
        cols = st.columns(columns)
        for col, ref in zip(cols, refs[i:i + columns]):
            with col:
                run_card(ref)


if __name__ == "__main__":
    main()
