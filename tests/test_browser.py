"""End to end: a real `streamlit run` server driven by headless Chromium (Debian's, via Playwright).

A learner opens the app, starts a small training from the Train page's form, closes the tab, opens
the Watch page's URL in a new tab and finds the run going on to its end; a zip with a '..' member
is refused with a clear message; the server's log holds no traceback.
"""

import io
import json
import zipfile

import pytest

from browser_support import ARGS, CHROMIUM, need_browser, start_server, stop_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path):
    need_browser()
    runs, pre = tmp_path / "runs", tmp_path / "pretrained"
    runs.mkdir()
    pre.mkdir()
    log_path = tmp_path / "server.log"
    proc, url = start_server(log_path, runs, pre, wait_s=30)
    try:
        yield url, runs, log_path
    finally:
        stop_server(proc, runs)


def _evil_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("faces/ok.png", b"\x89PNG not really")
        zf.writestr("../evil.png", b"escape")
    return buf.getvalue()


def test_train_close_reopen_and_a_bad_upload(server):
    from playwright.sync_api import expect, sync_playwright

    url, runs, log_path = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            console_errors: list[str] = []

            def watch_console(page):
                page.on("console", lambda m: m.type == "error" and console_errors.append(m.text[:300]))
                return page

            page = watch_console(browser.new_page(viewport={"width": 1366, "height": 900}))
            page.goto(url)
            expect(page.get_by_role("heading", name="GAN Playground")).to_be_visible(timeout=45_000)
            expect(page.get_by_text("Train the classroom preset")).to_be_visible()

            # Start a small 2D-toy training through the form.
            page.goto(f"{url}/train")
            expect(page.get_by_text("Start training")).to_be_visible(timeout=30_000)
            page.get_by_role("combobox", name="Preset").click()
            # the list is long (a page of it is drawn at a time): typing narrows it, as a person would
            page.keyboard.type("Mode collapse")
            page.get_by_role("option", name="Mode collapse on the 8-Gaussian ring").click()
            expect(page.get_by_role("combobox", name="Dataset")).to_have_value(
                "2D toy: 8 Gaussians on a ring")
            page.get_by_role("spinbutton", name="Epochs", exact=True).fill("1")
            page.get_by_role("spinbutton", name="Epochs", exact=True).press("Enter")
            page.get_by_text("Data", exact=True).click()            # the expander
            page.get_by_role("spinbutton", name="Use at most (images)").fill("2000")
            page.get_by_role("spinbutton", name="Use at most (images)").press("Enter")
            page.get_by_role("textbox", name="Name (optional)").fill("browser ring")
            page.get_by_role("textbox", name="Name (optional)").press("Enter")
            page.wait_for_timeout(500)
            page.get_by_role("button", name="Start training").click()
            page.wait_for_url("**/watch?run=runs*", timeout=30_000)
            watch_url = page.url
            expect(page.get_by_role("heading", name="browser ring")).to_be_visible(timeout=30_000)
            page.close()

            # The run goes on without the page; a new tab finds it through the URL alone.
            created = [d for d in runs.iterdir() if (d / "config.json").is_file()]
            assert len(created) == 1
            page = watch_console(browser.new_page(viewport={"width": 1920, "height": 1080}))
            page.goto(watch_url)
            expect(page.get_by_role("heading", name="browser ring")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Finished every epoch")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Epoch 1/1 · step")).to_be_visible()
            # Play shows epochs 0 and 1 in place, each for half a second: record every caption the
            # page ever renders (polling could miss a frame on a busy machine).
            page.evaluate("""() => {
                window.__captions = new Set();
                const seen = () => document.querySelectorAll('[data-testid=stImageCaption]')
                    .forEach(el => window.__captions.add(el.innerText.trim()));
                new MutationObserver(seen).observe(document.body,
                    {subtree: true, childList: true, characterData: true});
                seen();
            }""")
            page.get_by_role("button", name="Play all epochs").click()
            page.wait_for_function(
                "['Epoch 0', 'Epoch 1'].every(c => [...window.__captions].some(t => t.startsWith(c)))",
                timeout=30_000)
            expect(page.locator("[data-testid=stImageCaption]").first).to_have_text("Epoch 1")
            status = json.loads((created[0] / "status.json").read_text())
            assert status["state"] == "finished" and status["epoch"] == 1
            assert json.loads((created[0] / "config.json").read_text())["config"]["max_images"] == 2000

            # A zip that tries to write outside its folder is refused in plain words.
            page.goto(f"{url}/train")
            expect(page.get_by_text("Start training")).to_be_visible(timeout=30_000)
            page.get_by_role("combobox", name="Dataset").click()
            page.get_by_role("option", name="Your own images (upload a zip)").click()
            page.locator("input[type=file]").set_input_files(
                files=[{"name": "evil.zip", "mimeType": "application/zip", "buffer": _evil_zip()}])
            expect(page.get_by_text("This zip cannot be used")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("'..' component")).to_be_visible()
            assert not any((runs / "_uploads").glob("*/*"))      # nothing of it is kept
            # No lost connection ("Cached ForwardMsg MISS" and the like) and no missing file;
            # Streamlit's client probes <page>/_stcore/* before the root, which 404s harmlessly.
            serious = [m for m in console_errors if not m.startswith("Failed to load resource")]
            assert serious == [], serious
        finally:
            browser.close()
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
