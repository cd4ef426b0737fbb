"""Messages in the people's languages (pt-BR and English). The core never imports streamlit.

Every sentence a person reads goes through ``t`` with the English text as its message id and
``{name}`` placeholders for values, so Babel can extract it and a translator can edit the ``.po``
catalogs without reading Python. Catalogs: ``playground/locale/<lang>/LC_MESSAGES/messages.po``,
compiled to ``messages.mo`` beside them (committed, so the app starts offline; see
``playground/locale/README.md`` for the two pybabel commands).

    t("Epoch {epoch} of {epochs}", "pt", epoch=3, epochs=10)  ->  "Época 3 de 10"

Text the core writes into a run folder and a page shows later (failure-mode warnings, validation
messages) is a :class:`Message`: an ordinary English ``str`` for logs and the CLI that also keeps
its message id and values, so :func:`render` shows it in the language of whoever reads it.
"""

from __future__ import annotations

import gettext
import math
import re
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "pt")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
BABEL_LOCALES = {"en": "en_US", "pt": "pt_BR"}
LANGUAGE_NAMES = {"en": "English", "pt": "Português (Brasil)"}


def normalize_language(value: str | None) -> str:
    """``"pt-BR"``, ``"pt_br"``, ``"pt"`` -> ``"pt"``; anything unknown -> English."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0] if isinstance(value, str) else ""
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def catalog(lang: str, domain: str = "messages") -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English text as is when a catalog is missing).

    Domain ``messages``: the code's sentences (extracted by Babel). Domain ``pretrained``: the
    names and data notes stored in the pretrained runs' folders, which no code holds."""
    try:
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.mo", "rb") as f:
            return gettext.GNUTranslations(f)
    except OSError:
        return gettext.NullTranslations()


def stored_text(text: str, lang: str) -> str:
    """English text stored in a run folder (a pretrained run's name, an older run's notes or
    status) in ``lang`` when a catalog has it, else as stored."""
    lang = normalize_language(lang)
    for domain in ("messages", "pretrained"):
        # a plain look-up, not gettext: text a person wrote is not a message the catalogs lack
        found = getattr(catalog(lang, domain), "_catalog", {}).get(text)
        if isinstance(found, str) and found:
            return found
    return text


def _fill(text: str, values: dict) -> str:
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        # a translation with a broken placeholder must not hide the message: fall back to English
        return text


def t(msgid: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The message ``msgid`` in ``lang`` with its placeholders filled from ``values``."""
    text = catalog(normalize_language(lang)).gettext(msgid)
    out = _fill(text, values)
    if out is text and values and text != msgid:
        return _fill(msgid, values)
    return out


def tn(singular: str, plural: str, n: int, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """A message whose form depends on the count ``n`` (available as ``{n}``)."""
    text = catalog(normalize_language(lang)).ngettext(singular, plural, n)
    values.setdefault("n", format_int(n, lang))
    return _fill(text, values)


def N_(msgid: str) -> str:
    """Marks ``msgid`` for extraction where it is translated later (tables of texts)."""
    return msgid


# ----------------------------------------------------------------------------- stored messages
class Message(str):
    """An English sentence that remembers its message id and values (all JSON-serialisable, or
    Messages themselves), so a page can show it again in another language."""

    msgid: str
    values: dict

    def __new__(cls, msgid: str, **values):
        english = _fill(msgid, {k: _english(v) for k, v in values.items()})
        obj = super().__new__(cls, english)
        obj.msgid, obj.values = msgid, values
        return obj

    def to_json(self) -> dict:
        return {"msgid": self.msgid, "values": {k: (v.to_json() if isinstance(v, Message) else v)
                                                for k, v in self.values.items()}}


def _english(v):
    if isinstance(v, Message):
        return str(v)
    if isinstance(v, dict):
        return render(v, "en", fmt=lambda x: f"{x:g}" if isinstance(x, float) else x)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"     # as the English text was always written: 100,000 entries
    return f"{v:g}" if isinstance(v, float) else v


def msg(msgid: str, **values) -> Message:
    """A :class:`Message` (extracted like ``t``)."""
    return Message(msgid, **values)


def joined(parts: list, sep: str = "; ") -> dict:
    """Several stored messages shown one after the other (each translated on its own)."""
    return {"join": [p.to_json() if isinstance(p, Message) else p for p in parts], "sep": sep}


def render(stored, lang: str, fallback: str = "", fmt=None) -> str:
    """A stored message in ``lang``: a Message, ``{"msgid", "values"}``, ``{"join": [...]}``, or
    plain text (an older run: shown as stored). ``fmt(value)`` formats filled-in values."""
    if isinstance(stored, Message):
        stored = stored.to_json()
    if isinstance(stored, dict):
        if isinstance(stored.get("join"), list):
            return str(stored.get("sep", "; ")).join(render(p, lang, fmt=fmt) for p in stored["join"])
        msgid = stored.get("msgid")
        if isinstance(msgid, str) and msgid:
            raw = stored.get("values") if isinstance(stored.get("values"), dict) else {}
            values = {k: render(v, lang, fmt=fmt) if isinstance(v, dict) else (fmt(v) if fmt else v)
                      for k, v in raw.items()}
            return t(msgid, lang, **values)
        return fallback
    if isinstance(stored, str):
        # text stored before messages had ids: known fixed sentences are still translated
        return stored_text(stored, lang) if stored else fallback
    return fallback


# ----------------------------------------------------------------------------- numbers and dates
def _locale(lang: str) -> str:
    return BABEL_LOCALES[normalize_language(lang)]


def format_number(value, lang: str = DEFAULT_LANGUAGE, decimals: int | None = None,
                  significant: int | None = None) -> str:
    """``value`` with the language's separators: 3.673 and 0,0002 in pt-BR, 3,673 and 0.0002 in
    English. ``decimals`` fixes the digits after the separator; ``significant`` rounds to that many
    significant digits (small values keep theirs: 0,0002, not 0); else up to 6 decimals are shown."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and decimals is None:
        return format_decimal(value, format="#,##0", locale=_locale(lang))
    if decimals is not None:
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(value, format=pattern, locale=_locale(lang), decimal_quantization=True)
    if significant is not None and value != 0:
        digits = max(0, significant - 1 - int(math.floor(math.log10(abs(value)))))
        value = round(value, digits)
        return format_decimal(value, format="#,##0." + "#" * max(digits, 0), locale=_locale(lang))
    return format_decimal(value, format="#,##0.######", locale=_locale(lang))


def format_int(value, lang: str = DEFAULT_LANGUAGE) -> str:
    return format_number(int(value), lang) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else str(value)


def format_percent(value: float, lang: str = DEFAULT_LANGUAGE) -> str:
    from babel.numbers import format_percent as _fp

    return _fp(value, locale=_locale(lang))


def format_datetime(timestamp: float, lang: str = DEFAULT_LANGUAGE) -> str:
    """A moment as the language writes it (30/11/2026 15:22 in pt-BR)."""
    from datetime import datetime

    from babel.dates import format_datetime as _fd

    return _fd(datetime.fromtimestamp(timestamp), format="short", locale=_locale(lang))


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(text) -> float:
    """A number typed by a person: ``0,0002``, ``0.0002``, ``2e-4``, ``1.000,5``, ``1,000.5``.
    With one kind of separator it is the decimal one; with both, the last one is. ValueError
    when it is not a number."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().replace(" ", "").replace("\u00a0", "")
    if "," in s and "." in s:
        last = max(s.rfind(","), s.rfind("."))
        thousands = "." if s[last] == "," else ","
        s = s.replace(thousands, "")
    s = s.replace(",", ".")
    if not _NUMBER.match(s):
        raise ValueError(text)
    return float(s)
