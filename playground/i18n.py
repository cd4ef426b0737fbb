"""Messages in the people's languages (pt-BR and English). The core never imports streamlit.

Every sentence a person reads goes through ``t`` with the English text as its message id and
``{name}`` placeholders for values, so Babel can extract it and a translator can edit the ``.po``
catalogs without reading Python. Catalogs: ``playground/locale/<lang>/LC_MESSAGES/messages.po``.

    t("Epoch {epoch} of {epochs}", "pt", epoch=3, epochs=10)  ->  "Época 3 de 10"
"""

from __future__ import annotations

LANGUAGES = ("en", "pt")
DEFAULT_LANGUAGE = "en"


def normalize_language(value: str | None) -> str:
    """``"pt-BR"``, ``"pt_br"``, ``"pt"`` -> ``"pt"``; anything unknown -> English."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def t(msgid: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The message ``msgid`` in ``lang`` with its placeholders filled from ``values``."""
    return msgid.format(**values) if values else msgid


def tn(singular: str, plural: str, n: int, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """A message whose form depends on the count ``n`` (available as ``{n}``)."""
    return t(singular if n == 1 else plural, lang, n=n, **values)
