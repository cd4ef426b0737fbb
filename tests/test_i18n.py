"""The message catalogs (pt-BR and English), number formats, typed numbers and stored messages.

The catalogs are checked against the code itself: Babel extracts every message the way
``scripts/messages.sh`` does, and each must be in both catalogs with the same placeholders; the
committed ``.mo`` files must say what their ``.po`` files say.
"""

import gettext
import io
import re
import string
from pathlib import Path

import pytest

pytest.importorskip("babel")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.mofile import write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from playground import i18n  # noqa: E402
from playground.i18n import Message, format_number, joined, msg, parse_number, render, t, tn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "playground" / "locale"
KEYWORDS = {"t": None, "tn": (1, 2), "tr": None, "trn": (1, 2), "tx": None, "txn": (1, 2),
            "msg": None, "N_": None}


def _catalog(lang, domain="messages"):
    with open(LOCALE / lang / "LC_MESSAGES" / f"{domain}.po", "rb") as f:
        return read_po(f, locale="pt_BR" if lang == "pt" else "en")


def _extracted() -> dict:
    """{msgid or (singular, plural): where} for every message in the code, as Babel finds it."""
    out = {}
    method_map = [("playground/**.py", "python"), ("streamlit_app.py", "python")]
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=KEYWORDS):
        if filename.startswith(("playground/", "streamlit_app.py")):
            out[message] = filename
    return out


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_in_the_code_is_in_both_catalogs():
    extracted = _extracted()
    assert len(extracted) > 300          # the pages really go through the catalogs
    for lang in ("pt", "en"):
        cat = _catalog(lang)
        missing = []
        for message, where in extracted.items():
            key = message[0] if isinstance(message, tuple) else message
            m = cat.get(key)
            if m is None or not (all(m.string) if isinstance(m.string, tuple) else m.string):
                missing.append(f"{where}: {key!r}")
        assert missing == [], f"{lang}: {len(missing)} messages without a translation " \
                              f"(run scripts/messages.sh and translate):\n" + "\n".join(missing[:20])


@pytest.mark.parametrize("lang", ["pt", "en"])
def test_translations_keep_the_placeholders(lang):
    for m in list(_catalog(lang)) + list(_catalog(lang, "pretrained")):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set().union(*(_fields(i) for i in ids)) - {"n"}
        for s in strings:
            got = _fields(s) - {"n"}
            assert got == wanted, f"{lang}: {ids[0]!r} has {sorted(got)}, the message id {sorted(wanted)}"
            s.format(**{k: "x" for k in _fields(s)})     # and it formats


@pytest.mark.parametrize("domain", ["messages", "pretrained"])
@pytest.mark.parametrize("lang", ["pt", "en"])
def test_compiled_catalogs_are_up_to_date(lang, domain):
    """The committed .mo (what the app loads) holds exactly what the .po says: a translation edited
    in the .po without `pybabel compile` fails here."""
    buf = io.BytesIO()
    write_mo(buf, _catalog(lang, domain))
    buf.seek(0)
    fresh = gettext.GNUTranslations(buf)._catalog
    with open(LOCALE / lang / "LC_MESSAGES" / f"{domain}.mo", "rb") as f:
        committed = gettext.GNUTranslations(f)._catalog
    fresh = {k: v for k, v in fresh.items() if k}          # the header carries dates
    committed = {k: v for k, v in committed.items() if k}
    stale = sorted(str(k)[:80] for k in set(fresh) ^ set(committed)) + sorted(
        str(k)[:80] for k in set(fresh) & set(committed) if fresh[k] != committed[k])
    assert stale == [], f"{lang}: messages.mo is stale (pybabel compile -d playground/locale): {stale[:10]}"


def test_every_pretrained_name_and_data_note_is_translated():
    """Pretrained runs are what a class sees first: their names and data notes (stored in their
    folders, not in code) are in the ``pretrained`` catalog."""
    import json

    pt = _catalog("pt", "pretrained")
    texts = []
    for cfg in sorted((ROOT / "pretrained").glob("*/config.json")):
        doc = json.loads(cfg.read_text())
        texts += [doc["config"].get("name"), (doc.get("data") or {}).get("notes")]
    missing = [x for x in texts if x and not (pt.get(x) and pt.get(x).string)]
    assert missing == [], f"add these to playground/locale/pt/LC_MESSAGES/pretrained.po: {missing}"
    if texts:
        assert i18n.stored_text(texts[0], "pt") != texts[0]


def test_glossary_terms_are_used_in_the_portuguese_catalog():
    pt = " ".join(m.string if isinstance(m.string, str) else " ".join(m.string) for m in _catalog("pt") if m.id)
    for term in ("gerador", "discriminador", "época", "lote", "taxa de aprendizado", "ruído",
                 "vetor latente z", "espaço latente", "colapso de modo", "função de perda", "equilíbrio"):
        assert term in pt, term
    glossary = (LOCALE / "GLOSSARY.md").read_text()
    assert "taxa de aprendizado" in glossary and "colapso de modo" in glossary


def test_translation_and_plurals():
    assert t("Epoch {epoch}", "pt", epoch=3) == "Época 3"
    assert t("Epoch {epoch}", "en", epoch=3) == "Epoch 3"
    assert t("Epoch {epoch}", "pt-BR", epoch=3) == "Época 3"          # a browser's locale
    assert t("not a message id {x}", "pt", x=1) == "not a message id 1"
    assert tn("{n} run, {size} on disk.", "{n} runs, {size} on disk.", 1, "pt", size="2 MB") == \
        "1 treinamento, 2 MB em disco."
    assert tn("{n} run, {size} on disk.", "{n} runs, {size} on disk.", 3673, "pt", size="2 MB") == \
        "3.673 treinamentos, 2 MB em disco."
    assert i18n.normalize_language("pt_BR") == "pt" and i18n.normalize_language("de-DE") == "en"
    assert i18n.normalize_language(None) == "en"


def test_numbers_follow_the_language():
    assert format_number(0.0002, "pt") == "0,0002" and format_number(0.0002, "en") == "0.0002"
    assert format_number(3673, "pt") == "3.673" and format_number(3673, "en") == "3,673"
    assert format_number(3673.4, "pt", decimals=0) == "3.673"
    assert format_number(0.123456, "pt", significant=3) == "0,123"
    assert format_number(82.04, "pt", decimals=1) == "82,0"


@pytest.mark.parametrize("typed, value", [("0,0002", 2e-4), ("0.0002", 2e-4), ("2e-4", 2e-4), ("2E-4", 2e-4),
                                          (" 0,5 ", 0.5), ("1.000,5", 1000.5), ("1,000.5", 1000.5),
                                          ("-0,1", -0.1), (",5", 0.5), ("3", 3.0)])
def test_typed_numbers_accept_a_comma_or_a_point(typed, value):
    assert parse_number(typed) == pytest.approx(value)


@pytest.mark.parametrize("typed", ["", "abc", "1,2,3", "0,0,1", "1e", "nan?", "--1"])
def test_typed_numbers_refuse_what_is_not_a_number(typed):
    with pytest.raises(ValueError):
        parse_number(typed)


def test_stored_messages_render_in_any_language():
    inner = msg("D's loss")
    m = msg("Mode collapse: {what}. The generator is settling on a few kinds of output that fool the "
            "discriminator instead of covering the whole data set.",
            what=joined([msg("the generated images now fall into {classes} classes, down from {best}",
                             classes=4, best=10), inner]))
    assert isinstance(m, Message) and isinstance(m, str)
    assert str(m).startswith("Mode collapse: the generated images now fall into 4 classes, down from 10; "
                             "D's loss.")
    stored = m.to_json()
    pt = render(stored, "pt")
    assert pt.startswith("Colapso de modo: as imagens geradas agora caem em 4 classes, eram 10; a perda de D.")
    assert render(stored, "en") == str(m)
    # an old run's event has only English text: it is shown as stored
    assert render(None, "pt", fallback="Old English warning.") == "Old English warning."
    assert render("loading data", "pt") == "carregando os dados"          # a fixed sentence still is
    # numbers inside stored messages follow the reader's language
    m = msg("must be a number at least {lo} and at most {hi}, got {value}", lo=0.0, hi=0.999, value=1.5)
    assert str(m) == "must be a number at least 0 and at most 0.999, got 1.5"
    assert render(m, "pt", fmt=lambda v: format_number(v, "pt") if isinstance(v, float) else v) == \
        "deve ser um número de pelo menos 0 e no máximo 0,999; recebido 1,5"


def test_validation_messages_are_stored_messages():
    from playground.config import TrainConfig, validation_errors

    errors = validation_errors(TrainConfig.from_dict({**TrainConfig().to_dict(), "lr_g": 2.0, "kernel_size": 3}))
    assert isinstance(errors["lr_g"], Message) and "lr_g" not in errors["lr_g"]
    assert render(errors["kernel_size"], "pt") == "deve ser 4 ou 5; recebido 3"


def test_monitor_events_keep_their_message_ids():
    from playground.monitor import Monitor

    m = Monitor(has_probs=True, lr_d=2e-4)
    ev = m.non_finite(3, 120)
    assert ev["message"].startswith("The losses became NaN")
    assert render(ev["message_id"], "pt").startswith("As perdas viraram NaN ou infinito")
    assert render(ev["advice_id"], "pt").startswith("Retomar assim não adianta")
    assert re.search(r"\{|\}", render(ev["message_id"], "pt")) is None
