"""The page's language and its messages: ``tr("English text {name}", name=value)``.

Values filled into a message are escaped for Markdown, so text that came from a person, a URL, a
file name or a run folder is shown as text and never becomes a link, an image or HTML. ``tx`` is
the same without escaping, for places that show plain text (select-box options, tables, charts,
file names). ``esc`` escapes one value on its own.

The language: ``?lang=pt|en`` in the URL when present (a shared link opens in its language),
else the one this browser tab chose before (page links drop the URL's query), else the browser's
(``st.context.locale``), else English. The router writes it back into the URL on every page.
"""

from __future__ import annotations

import re

import streamlit as st

from playground import i18n

_STATE = "_lang"
# Characters that start Markdown or HTML: links and images ([ ] ( ) !), emphasis (* _ ~), code
# (`), headings and lists (# + -), tables (|), raw HTML and autolinks (< >), Streamlit's :icon: and
# :color[] directives and bare URLs (:), $math$, e-mail autolinks (@), braces. CommonMark shows a
# backslash-escaped punctuation character as itself.
_SPECIAL = re.compile(r"([\\`*_\[\]()!#+\-<>|~:$@{}&])")
_ORDERED = re.compile(r"^(\d+)([.)])")        # "1. text" at the start of a line is a list
# GitHub-flavoured Markdown turns bare "https://…", "www.…" and e-mail addresses into links, and
# Streamlit turns ":material/home:" into an icon and ":smile:" into an emoji, after escapes are
# resolved, so a backslash does not stop them: an invisible word joiner (U+2060) after every colon,
# after "www" and after "@" does.
_JOINER = "\u2060"
_WWW = re.compile(r"(?i)\b(www)\.")
_AT = re.compile(r"\\@")


class Markdown(str):
    """Text already safe as Markdown (escaped, or the project's own): ``tr`` fills it in as is."""


def esc(value) -> Markdown:
    """``value`` as literal text inside Markdown (on one line)."""
    if isinstance(value, Markdown):
        return value
    text = " ".join(str(value).splitlines())
    text = _SPECIAL.sub(r"\\\1", text)
    text = text.replace("\\:", "\\:" + _JOINER)
    text = _WWW.sub(lambda m: m.group(1) + _JOINER + "\\.", text)
    text = _AT.sub(lambda m: m.group(0) + _JOINER, text)
    return Markdown(_ORDERED.sub(r"\1\\\2", text))


def lang() -> str:
    """The page's language: ``?lang=`` if set, else this tab's earlier choice, else the
    browser's, else English."""
    value = st.query_params.get("lang")
    if value:
        return i18n.normalize_language(value)
    chosen = st.session_state.get(_STATE)
    if chosen:
        return i18n.normalize_language(chosen)
    try:
        return i18n.normalize_language(getattr(st.context, "locale", None))
    except Exception:   # no browser behind this script run (a bare test)
        return i18n.DEFAULT_LANGUAGE


def _escaped(values: dict) -> dict:
    return {k: (v if isinstance(v, (int, float)) and not isinstance(v, bool) else esc(v))
            for k, v in values.items()}


def tr(msgid: str, **values) -> Markdown:
    """``msgid`` translated into the page's language, values filled in as plain text (escaped
    for Markdown, except values that are ``Markdown`` already); whole numbers are written with
    the language's separators."""
    return Markdown(i18n.t(msgid, lang(), **_escaped(_numbers(values))))


def trn(singular: str, plural: str, n: int, **values) -> Markdown:
    return Markdown(i18n.tn(singular, plural, n, lang(), **_escaped(_numbers(values))))


def tx(msgid: str, **values) -> str:
    """Like ``tr`` for plain-text places (options, table cells, chart text): nothing escaped."""
    return i18n.t(msgid, lang(), **_numbers(values))


def txn(singular: str, plural: str, n: int, **values) -> str:
    return i18n.tn(singular, plural, n, lang(), **_numbers(values))


def _numbers(values: dict) -> dict:
    """Numbers written as the page's language writes them: whole numbers with its thousands
    separator, others with its decimal separator (4 significant digits; callers who know how many
    digits a value deserves pass it through ``num`` themselves)."""
    out = {}
    for k, v in values.items():
        if isinstance(v, int) and not isinstance(v, bool):
            v = num(v)
        elif isinstance(v, float):
            v = num(v, significant=4)
        out[k] = v
    return out


def num(value, decimals: int | None = None, significant: int | None = None) -> str:
    """A number written as the page's language writes it (0,0002 and 3.673 in pt-BR)."""
    return i18n.format_number(value, lang(), decimals=decimals, significant=significant)


def error_text(e: BaseException):
    """An exception's message for a page: in the page's language when the core raised it with a
    stored message (playground.i18n.Message, such as the cluster's), else as it is."""
    first = e.args[0] if getattr(e, "args", None) else None
    return shown(first) if isinstance(first, i18n.Message) else e


def shown(stored, fallback: str = "") -> Markdown:
    """A message stored by the core (see :func:`playground.i18n.render`) in the page's language,
    escaped for Markdown."""
    return esc(i18n.render(stored, lang(), fallback=fallback, fmt=_stored_value))


def _stored_value(v):
    if isinstance(v, float):
        return num(v, significant=3)
    if isinstance(v, int) and not isinstance(v, bool):
        return num(v)
    return v


def remember_language() -> str:
    """Called by the router before every page: keeps the language in the URL (a refresh and a
    shared link keep it) and in this tab's session (page links drop the query)."""
    code = lang()
    st.session_state[_STATE] = code
    if st.query_params.get("lang") != code:
        st.query_params["lang"] = code
    return code


def language_switch(where=None) -> None:
    """The language choice (in the sidebar by default); the page reruns in the new language."""
    target = where if where is not None else st.sidebar
    current = lang()

    def _changed() -> None:
        new = st.session_state.get("_lang_switch") or current
        st.session_state[_STATE] = new
        st.query_params["lang"] = new

    if st.session_state.get("_lang_switch") != current:
        st.session_state["_lang_switch"] = current
    target.segmented_control("Idioma / Language", list(i18n.LANGUAGES),
                             key="_lang_switch", on_change=_changed, required=True,
                             format_func=lambda c: {"pt": "Português", "en": "English"}[c])
