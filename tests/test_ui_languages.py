"""Every page in Brazilian Portuguese and in English, and text from people and URLs shown as text.

Driven by Streamlit's AppTest over tiny run folders trained for real (see test_ui_app.py). A
missing translation is caught where it happens: the catalogs' lookups are watched while the pages
run, and a sentence the Portuguese catalog does not have fails the test.
"""

import json
import re

import pytest

from playground import i18n
from playground.monitor import Monitor
from playground.runs import Run
from playground.ui.i18n import esc
from test_ui_app import PAGES, folders, made_runs, with_runs  # noqa: F401  (fixtures)

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "streamlit_app.py")
ALL_PAGES = {**PAGES, "explore": "playground/ui/pages/explore.py", "compare": "playground/ui/pages/compare.py",
             "toy": "playground/ui/pages/toy.py"}
# Names that are the same in every language and are looked up all the same (architectures, datasets).
SAME_IN_EVERY_LANGUAGE = {"DCGAN", "LSGAN", "WGAN-GP", "MNIST", "Fashion-MNIST", "CIFAR-10", "hinge",
                          "28 px", "32 px", "64 px", "128 px", "FCC-GAN", "ReLU", "LeakyReLU"}


def app(page: str, lang: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    if lang:
        at.query_params["lang"] = lang
    if ALL_PAGES[page]:
        at.switch_page(ALL_PAGES[page])
    return at.run()


MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")


def shown(at) -> list[str]:
    """Everything the page renders as Markdown: texts, alerts and widget labels."""
    out = [str(e.value) for kind in MARKDOWN_KINDS for e in getattr(at, kind)]
    for kind in ("button", "checkbox", "selectbox", "text_input", "number_input", "select_slider", "toggle"):
        out += [str(w.label) for w in getattr(at, kind)]
    out += [c for img in at.get("image") for c in (img.captions or [])]
    return out


@pytest.fixture
def misses(monkeypatch):
    """Message ids looked up in the Portuguese catalog and not found there, while pages run."""
    found: list[str] = []
    real = i18n.catalog

    class Watched:
        def __init__(self, cat):
            self.cat = cat
            self._catalog = getattr(cat, "_catalog", {})   # plain look-ups of stored text pass

        def gettext(self, message):
            if message not in self.cat._catalog:
                found.append(message)
            return self.cat.gettext(message)

        def ngettext(self, singular, plural, n):
            if (singular, 0) not in self.cat._catalog:
                found.append(singular)
            return self.cat.ngettext(singular, plural, n)

    monkeypatch.setattr(i18n, "catalog", lambda lang, domain="messages": Watched(real(lang, domain))
                        if lang == "pt" and domain == "messages" else real(lang, domain))
    return found


# ----------------------------------------------------------------------------- both languages
@pytest.mark.parametrize("page", list(ALL_PAGES))
def test_every_page_in_portuguese_with_no_missing_message(with_runs, misses, page):
    for key in ("runs/mnist", "runs/ring"):
        at = app(page, "pt", run=key)
        assert not at.exception, (page, key, [e.value for e in at.exception])
    missing = sorted(set(misses) - SAME_IN_EVERY_LANGUAGE)
    assert missing == [], f"{page}: not in the Portuguese catalog: {missing}"
    assert at.query_params["lang"] in ("pt", ["pt"])


@pytest.mark.parametrize("page", list(ALL_PAGES))
def test_every_empty_page_in_portuguese_with_no_missing_message(folders, misses, page):
    at = app(page, "pt")
    assert not at.exception, (page, [e.value for e in at.exception])
    assert sorted(set(misses) - SAME_IN_EVERY_LANGUAGE) == []
    assert "\n".join(shown(at)).strip()


@pytest.mark.parametrize("page", list(ALL_PAGES))
def test_every_page_in_english(with_runs, page):
    at = app(page, "en", run="runs/mnist")
    assert not at.exception, (page, [e.value for e in at.exception])
    body = "\n".join(shown(at))
    for word in ("Época", "Treinar", "treinamento", "gerador"):
        assert word not in body, (page, word)


def test_watch_in_portuguese_reads_as_portuguese(with_runs):
    at = app("watch", "pt", run="runs/mnist")
    body = "\n".join(shown(at))
    for words in ("Treinamento para acompanhar", "Amostras geradas, época por época",
                  "D(x) é o quanto o discriminador", "concluído", "Reproduzir todas as épocas"):
        assert words in body, words
    assert at.get("progress")[0].proto.text.startswith("Época 2/2 · passo")
    for english in ("Generated samples", "Play all epochs", "Finished every epoch", "step "):
        assert english not in body, english
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert loss["layout"]["title"]["text"] == "Perdas do discriminador (D) e do gerador (G)"
    assert loss["layout"]["separators"] == ",." and loss["layout"]["xaxis"]["title"]["text"] == "época"
    assert {tr["name"] for tr in loss["data"]} >= {"perda de D", "perda de G"}


def test_the_language_comes_from_the_url_then_the_browser(with_runs):
    at = app("home", run="runs/mnist")               # AppTest has no browser locale: English
    assert at.query_params["lang"] in ("en", ["en"])
    assert any("generative adversarial network" in s for s in shown(at))
    at = app("home", "pt")
    assert any("rede adversarial generativa" in s for s in shown(at))
    assert at.query_params["lang"] in ("pt", ["pt"])
    # the switch in the sidebar changes the page's language and the URL
    at.segmented_control(key="_lang_switch").set_value("en").run()
    assert not at.exception and at.query_params["lang"] in ("en", ["en"])
    assert any("generative adversarial network" in s for s in shown(at))


def test_typed_numbers_with_a_comma_reach_the_config(folders):
    runs, _ = folders
    at = app("train", "pt")
    lr = at.text_input(key="train.lr_g")
    assert lr.value == "0,0002"                    # shown as pt-BR writes it
    lr.set_value("0,0005").run()
    at.text_input(key="train.lr_d").set_value("1e-4").run()
    assert not at.exception and not any(m.value.startswith(":red") for m in at.markdown)
    at.text_input(key="train.lr_g").set_value("rápido").run()
    errors = [m.value for m in at.markdown if m.value.startswith(":red")]
    assert errors and "deve ser um número" in errors[0] and "lr_g" not in errors[0]


def test_validation_messages_name_the_visible_label(folders):
    at = app("train", "pt")
    at.number_input(key="train.epochs").set_value(0).run()
    red = [m.value for m in at.markdown if m.value.startswith(":red")]
    assert red and "deve ser um número inteiro de pelo menos 1" in red[0]
    assert any("Corrija a configuração marcada em vermelho" in w.value for w in at.warning)
    assert not any("epochs" in s for s in red + [w.value for w in at.warning])


# ----------------------------------------------------------------------------- stored warnings
def _add_event(run: Run, stored: bool = True) -> None:
    ev = Monitor(has_probs=True, lr_d=2e-4)._event("d_wins", 2, 40, p=0.05, n=4)
    if not stored:                                  # a run written before events had message ids
        ev.pop("message_id")
        ev.pop("advice_id")
    run.append_metrics([ev])


def test_a_failure_mode_warning_shows_in_the_page_language(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    _add_event(run)
    pt = [w.value for w in app("watch", "pt", run="runs/mnist").warning]
    pt = [w.replace("\\", "").replace("\u2060", "") for w in pt]            # the Markdown escapes of the values
    assert any("O discriminador está ganhando de lavada" in w and "O que tentar:" in w and "Época 2:" in w
               and "0,05" in w and "0,00005" in w for w in pt), pt
    en = [w.value for w in app("watch", "en", run="runs/mnist").warning]
    assert any("The discriminator is winning outright" in w and "0.05" in w for w in en), en


def test_an_old_warning_without_a_message_id_shows_its_stored_text(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    _add_event(run, stored=False)
    pt = [w.value for w in app("watch", "pt", run="runs/mnist").warning]
    assert any("The discriminator is winning outright" in w.replace("\\", "").replace("\u2060", "") for w in pt), pt


# ----------------------------------------------------------------------------- markup stays text
PAYLOADS = ["[Log in again here](https://example.com/login)", "![t](https://example.com/t.png)",
            "<img src=x onerror=alert(1)>", "**bold** :material/home: :red[red] $x^2$ www.example.com"]
MARKERS = ("Log in again here", "t.png", "onerror", "bold*")


def _no_live_markup(at, payload):
    """Wherever the payload's words are shown, they are escaped (literal), never the raw markup."""
    seen = 0
    for text in shown(at):
        if any(m in text.replace("\\", "").replace("\u2060", "") for m in MARKERS):
            seen += 1
            assert payload not in text, text
            assert esc(payload) in text, text
            assert not re.search(r"(?<!\\)\]\(https", text) and not re.search(r"(?<!\\)<img", text), text
    return seen


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("page, param", [("watch", "run"), ("compare", "a"), ("compare", "b"), ("runs", "run"),
                                         ("explore", "run")])
@pytest.mark.parametrize("lang", ["pt", "en"])
def test_a_url_value_is_shown_as_text(with_runs, page, param, payload, lang):
    at = app(page, lang, **{param: payload})
    assert not at.exception
    assert _no_live_markup(at, payload) >= 1          # the warning names it, as text


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("page", ["home", "watch", "runs", "compare", "explore"])
def test_a_run_name_is_shown_as_text(with_runs, page, payload):
    runs, _ = with_runs
    (runs / "mnist" / "label.json").write_text(json.dumps({"name": payload}))
    at = app(page, "pt", run="runs/mnist", a="runs/mnist")
    assert not at.exception
    seen = _no_live_markup(at, payload)
    if page in ("home", "watch", "runs"):
        assert seen >= 1


@pytest.mark.parametrize("payload", PAYLOADS[:3])
def test_a_rename_with_markup_is_kept_as_text(with_runs, payload):
    runs, _ = with_runs
    at = app("runs", "en", run="runs/mnist")
    box = next(w for w in at.text_input if w.label == "Name")
    box.set_value(payload)
    next(b for b in at.button if b.label == "Save name").click().run()
    assert not at.exception
    assert json.loads((runs / "mnist" / "label.json").read_text())["name"] == payload
    assert any("Renamed to" in s for s in shown(at))
    assert _no_live_markup(at, payload) >= 1
    assert _no_live_markup(app("home", "en"), payload) >= 1


def test_warnings_and_a_failure_written_by_real_runs_show_in_portuguese(folders, tiny_cfg, monkeypatch):
    """A run's own worker writes the warning (D wins) and the failure (NaN losses); the Watch page
    shows both in the page's language, and in English for an English page."""
    from playground import losses
    from playground.worker import train_run

    runs, _ = folders
    winning = Run(runs / "winning")
    winning.create(tiny_cfg(dataset="ring", epochs=4, max_images=320, lr_g=1e-4, lr_d=1e-2, log_every=2,
                            quality_samples=200))
    assert train_run(winning, echo=False) == 0
    pt = [w.value.replace("\\", "").replace("\u2060", "") for w in app("watch", "pt", run="runs/winning").warning]
    assert any("O discriminador está ganhando de lavada" in w and "O que tentar: Diminua a taxa de "
               "aprendizado de D" in w for w in pt), pt
    en = [w.value.replace("\\", "").replace("\u2060", "") for w in app("watch", "en", run="runs/winning").warning]
    assert any("The discriminator is winning outright" in w for w in en), en

    real = losses.d_loss
    monkeypatch.setattr(losses, "d_loss", lambda *a, **k: real(*a, **k) * float("nan"))
    diverged = Run(runs / "diverged")
    diverged.create(tiny_cfg(quality_samples=0))
    assert train_run(diverged, echo=False) == 1
    assert "error_id" in diverged.read_status()
    at = app("watch", "pt", run="runs/diverged")
    errors = [e.value.replace("\\", "").replace("\u2060", "") for e in at.error]
    assert any(e.startswith("O treino falhou: As perdas viraram NaN ou infinito") and "lr_g" not in e
               for e in errors), errors
    assert any("As perdas viraram NaN" in w.value.replace("\\", "").replace("\u2060", "") for w in at.warning)


def test_a_running_run_in_portuguese_with_no_missing_message(with_runs, misses):
    from test_ui_app import fake_running

    runs, _ = with_runs
    run = Run(runs / "mnist")
    fake_running(run)
    run.write_status(**{**run.read_status(), "images_per_s": 3673.4, "eta_s": 200, "message": "loading data"})
    at = app("watch", "pt", run="runs/mnist")
    assert not at.exception
    assert sorted(set(misses) - SAME_IN_EVERY_LANGUAGE) == []
    assert {"Pausar", "Parar", "Aplicar"} <= {b.label for b in at.button}
    assert "Mudar configurações durante o treino" in [e.label for e in at.expander]
    text = at.get("progress")[0].proto.text.replace("\\", "").replace("\u2060", "")   # Markdown escapes of the values
    assert "3.673 imagens/s" in text and "faltam cerca de 3 min 20 s" in text and "carregando os dados" in text
