"""The page's language and its messages: ``tr("English text {name}", name=value)``.

Values filled into a message are escaped for Markdown, so text that came from a person, a URL, a
file name or a run folder is shown as text and never becomes a link or an image.
"""

from __future__ import annotations

import streamlit as st

from playground import i18n


def lang() -> str:
    """The page's language: ``?lang=`` if set, else the browser's, else English."""
    value = st.query_params.get("lang")
    if value:
        return i18n.normalize_language(value)
    return i18n.normalize_language(getattr(st.context, "locale", None))


def tr(msgid: str, **values) -> str:
    """``msgid`` translated into the page's language, values filled in as plain text."""
    return i18n.t(msgid, lang(), **values)


def trn(singular: str, plural: str, n: int, **values) -> str:
    return i18n.tn(singular, plural, n, lang(), **values)
