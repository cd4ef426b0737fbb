"""In a real browser (Debian's Chromium via Playwright, a real `streamlit run` server): the Watch
page of a pretrained run in Portuguese, and text from URLs and run names that never becomes a link,
an image or a request to another host."""

import json
import shutil
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from browser_support import ARGS, CHROMIUM, need_browser, start_server, stop_server
from playground.runs import Run

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
SHOWN = "dcgan-fashion-report1"      # the first pretrained run a class sees
pytestmark = pytest.mark.browser
LINK = "[Log in again here](https://example.com/login)"
IMAGE = "![t](https://example.com/t.png)"
HTML = "<img src=https://example.com/x.png onerror=alert(1)>"
DIRECTIVES = "**bold** :material/home: :smile: :red[red] $x^2$ www.example.com a@example.com"


@pytest.fixture
def server(tmp_path):
    """A server over the shipped pretrained runs and one run of the user's own (a copy of a
    pretrained one) whose name is a Markdown link and an image."""
    need_browser()
    if not (PRETRAINED / SHOWN / "config.json").is_file():
        pytest.skip("the pretrained runs are not installed")
    runs = tmp_path / "runs"
    runs.mkdir()
    own = runs / "named"
    shutil.copytree(PRETRAINED / "ring-collapse", own)
    (own / "label.json").write_text(json.dumps({"name": f"{LINK} {IMAGE} {HTML} **bold**"}))
    log_path = tmp_path / "server.log"
    proc, url = start_server(log_path, runs, PRETRAINED, wait_s=30)
    try:
        yield url, log_path
    finally:
        stop_server(proc, runs)


def _chart_texts(page) -> list[str]:
    """Every text Plotly drew in the page's charts (titles, axes, legends, ticks, annotations)."""
    return page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot svg text')]
                                 .map(t => t.textContent.trim()).filter(Boolean)""")


def test_watch_a_pretrained_run_in_portuguese(server):
    from playwright.sync_api import expect, sync_playwright

    url, log_path = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
            page.goto(f"{url}/watch?run=pretrained/{SHOWN}&lang=pt")
            expect(page.get_by_text("Amostras geradas, época por época")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Perdas do discriminador (D) e do gerador (G)")).to_be_visible(timeout=30_000)
            body = page.inner_text("body")
            for words in ("Treinamento para acompanhar", "concluído", "Reproduzir todas as épocas", "Dados:",
                          "Acompanhar", "Idioma / Language"):
                assert words in body, words
            texts = _chart_texts(page)
            assert "perda de D" in texts and "perda de G" in texts and "época" in texts
            assert any("," in t and t.replace(",", "").isdigit() for t in texts), texts   # 0,5 1,5 ...
            english = {"loss", "epoch", "D loss", "G loss", "probability 'real'", "Losses of the discriminator (D) "
                       "and generator (G)", "How sure D is that an image is real", "D(x), real images",
                       "D(G(z)), generated images", "0.5: D cannot tell them apart"}
            assert not english & set(texts), english & set(texts)
            progress = page.locator("[data-testid=stProgress]").inner_text()
            steps = Run(ROOT / "pretrained" / SHOWN).read_status()["step"]   # 46800: the thousands with a point
            assert progress.startswith(f"Época 100/100 · passo {steps:,}".replace(",", ".")), progress

            # the choice stays across the sidebar's navigation and a reload
            page.get_by_role("link", name="Treinamentos").click()
            expect(page.get_by_role("heading", name="Treinamentos")).to_be_visible(timeout=30_000)
            assert "lang=pt" in page.url
            page.reload()
            expect(page.get_by_role("heading", name="Treinamentos")).to_be_visible(timeout=30_000)
            # and the switch brings English back
            page.locator("[data-testid=stSidebar]").get_by_text("English", exact=True).click()
            expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=30_000)
            assert "lang=en" in page.url
        finally:
            browser.close()
    assert "Traceback" not in log_path.read_text()


def test_text_from_urls_and_run_names_never_reaches_another_host(server):
    from playwright.sync_api import expect, sync_playwright

    url, log_path = server
    host = urlparse(url).netloc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            visits = [f"watch?run={quote(IMAGE)}", f"watch?run={quote(LINK)}", f"compare?b={quote(HTML)}",
                      f"explore?run={quote(DIRECTIVES)}",
                      f"runs?run={quote(LINK + IMAGE)}", "watch?run=runs/named", "", "runs?run=runs/named"]
            for visit in visits:
                page.goto(f"{url}/{visit}")
                expect(page.locator("[data-testid=stMain]")).to_be_visible(timeout=60_000)
                page.wait_for_timeout(4000)                  # charts, images and grids load
                if "named" in visit or visit == "":
                    expect(page.get_by_text("Log in again here", exact=False).first).to_be_visible(timeout=30_000)
                else:
                    expect(page.get_by_text("showing another one instead")).to_be_visible(timeout=30_000)
                # shown as the very characters typed: no link, no image, no HTML element made of them
                assert page.locator("a[href*='example.com']").count() == 0, visit
                assert page.locator("img[src*='example.com']").count() == 0, visit
                assert page.locator("img[src='x']").count() == 0, visit
                # no icon, emoji, colour, bold, maths or e-mail link made of the text either
                made = page.locator("[data-testid=stAlertContentWarning]").locator(
                    "span[role=img], strong, .katex, a, [style*='color']")
                assert made.count() == 0, (visit, made.first.evaluate("e => e.outerHTML") if made.count() else "")
                body = page.inner_text("body").replace("\u2060", "")   # the invisible joiner in URLs
                assert "[Log in again here](https://example.com/login)" in body or "named" not in visit
            outside = sorted({urlparse(r).netloc for r in requests if urlparse(r).scheme in ("http", "https", "ws", "wss")
                              and urlparse(r).netloc != host})
            assert outside == [], outside
            assert dialogs == []
        finally:
            browser.close()
    assert "Traceback" not in log_path.read_text()
