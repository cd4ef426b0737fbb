"""In a classroom, in headless Chromium: the newest grid fits the projector's screen, a new tab on
Watch finds the run that is training (and its picker label follows the run), and a refused live
setting keeps its message across the page's live updates."""

import re
import sys
import time
from pathlib import Path

import pytest

from browser_support import ARGS, CHROMIUM, need_browser, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.browser


def _start_server(tmp_path, pretrained: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    log_path = tmp_path / "server.log"
    proc, url = start_server(log_path, runs, pretrained)
    return proc, url, runs, log_path


@pytest.fixture
def shipped(tmp_path):
    """A server over the pretrained runs that ship with the app (read only)."""
    need_browser()
    proc, url, runs, log = _start_server(tmp_path, ROOT / "pretrained")
    try:
        yield url
    finally:
        stop_server(proc, runs)


@pytest.fixture
def classroom(tmp_path):
    """A server with no pretrained runs, whose runs folder the test fills."""
    need_browser()
    pre = tmp_path / "pretrained"
    pre.mkdir()
    proc, url, runs, log = _start_server(tmp_path, pre)
    try:
        yield url, runs, log
    finally:
        stop_server(proc, runs)


_GRID = ".st-key-watch_grid img"


def _grid_box(page) -> dict:
    page.wait_for_function(f"() => {{ const i = document.querySelector('{_GRID}');"
                           f" return i && i.complete && i.naturalWidth > 0; }}", timeout=120_000)
    page.wait_for_timeout(500)   # the layout settles once the image has its size
    return page.evaluate(f"""() => {{
        const r = document.querySelector('{_GRID}').getBoundingClientRect();
        return {{left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width,
                 vw: window.innerWidth, vh: window.innerHeight}}; }}""")


def test_watch_grid_fits_the_screen(shipped):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for width, height, first_screen in ((1920, 1080, True), (1366, 768, False), (1024, 768, False)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{shipped}/watch?run=pretrained/dcgan-fashion-report1", timeout=120_000)
                box = _grid_box(page)
                assert box["width"] > 200, box                              # a grid, not a thumbnail
                assert 0 <= box["left"] and box["right"] <= box["vw"], box   # never cut at the side
                # the page itself never scrolls sideways
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                if first_screen:
                    assert box["bottom"] <= box["vh"], box                  # whole on the first screen
                    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                    chart = page.evaluate("document.querySelector('.js-plotly-plot').getBoundingClientRect().bottom")
                    assert chart <= height                                  # and so is the loss chart
                    assert page.get_by_text(re.compile(r"^Epoch 100/100 · step")).is_visible()
                page.close()
            # "Play all epochs" moves the slider (and the chart's marker with it) and can be stopped
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{shipped}/watch?run=pretrained/dcgan-fashion-report1", timeout=120_000)
            _grid_box(page)
            page.get_by_role("button", name="Play all epochs").click()
            stop = page.get_by_role("button", name="Stop playing")
            expect(stop).to_be_visible(timeout=60_000)
            page.wait_for_timeout(3000)
            stop.click()
            expect(page.get_by_role("button", name="Play all epochs")).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1500)
            caption = page.locator("[data-testid=stImageCaption]").first.inner_text()
            shown = int(re.match(r"Epoch (\d+)", caption).group(1))
            assert shown < 100, caption                                      # it stopped on the way
            page.wait_for_timeout(2000)
            assert page.locator("[data-testid=stImageCaption]").first.inner_text() == caption   # and stays
            expect(page.locator(".js-plotly-plot").first.get_by_text(f"epoch {shown}", exact=True)).to_be_visible()
            page.close()
            # presentation mode: no sidebar, the grid larger and still whole on the screen
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{shipped}/watch?run=pretrained/dcgan-fashion-report1&present=1", timeout=120_000)
            box = _grid_box(page)
            assert box["bottom"] <= box["vh"] and box["right"] <= box["vw"], box
            assert not page.locator("[data-testid=stSidebar]").is_visible()
            assert not page.get_by_role("combobox", name="Run to watch").is_visible()
            page.close()
        finally:
            browser.close()


def _submit_live_run(runs: Path, epochs: int = 400):
    """A 2D-toy run that trains for minutes (each epoch a second or so) through the job manager."""
    sys.path.insert(0, str(ROOT))
    from playground.config import TrainConfig
    from playground.jobs import JobManager

    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **dict(
        name="training now", preset="ring-healthy", dataset="ring", arch="toy", max_images=2048,
        batch_size=256, epochs=epochs, z_dim=2, g_hidden=(32, 32), d_hidden=(32, 32), log_every=4,
        snapshot_schedule="50", quality_samples=200, device="cpu", threads=1)}).validate()
    manager = JobManager(runs, max_jobs=1)
    return manager, manager.submit(cfg)


def _epoch(run) -> int:
    return int(run.read_status().get("epoch") or 0)


def test_a_new_tab_finds_the_training_run_and_a_refused_setting_stays(classroom):
    from playwright.sync_api import expect, sync_playwright

    url, runs, log_path = classroom
    manager, run = _submit_live_run(runs)
    deadline = time.time() + 120
    while run.state() != "running" or _epoch(run) < 1:
        assert time.time() < deadline, run.read_status()
        time.sleep(0.5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            # A new tab opened on Watch from the menu: no ?run= in its address.
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            started = time.monotonic()
            page.goto(f"{url}/watch", timeout=120_000)
            expect(page.get_by_role("heading", name="training now")).to_be_visible(timeout=120_000)
            found_s = time.monotonic() - started
            assert page.url.endswith(f"run=runs%2F{run.id}") or f"run=runs/{run.id}" in page.url, page.url
            print(f"a new tab found the live run in {found_s:.1f} s")

            # The picker's label follows the run: paused, then running again.
            picker = page.get_by_role("combobox", name="Run to watch")
            expect(picker).to_have_value(re.compile(r"\(running\) — "), timeout=60_000)
            manager.pause(run)
            expect(picker).to_have_value(re.compile(r"\(paused\) — "), timeout=60_000)
            manager.unpause(run)
            expect(picker).to_have_value(re.compile(r"\(running\) — "), timeout=60_000)

            # A negative learning rate is refused next to its field, in the field's own words ...
            page.get_by_text("Change settings while it trains").click()
            field = page.get_by_role("textbox", name="Learning rate of G")
            field.fill("-0.001")
            field.press("Enter")   # submits the form
            message = page.get_by_text(re.compile(r"Learning rate of G: must be a number greater than 0 "
                                                  r"and at most 1, got -0\.001"))
            expect(message).to_be_visible(timeout=60_000)
            assert "lr_g" not in (run.read_control() or {})
            # ... and stays through the live updates (each new epoch reruns the whole page).
            before = _epoch(run)
            progress = page.get_by_text(re.compile(r"^Epoch \d+/400 · step"))
            deadline = time.time() + 120
            while _epoch(run) < before + 2:
                assert time.time() < deadline, run.read_status()
                time.sleep(0.5)
            expect(progress).not_to_have_text(re.compile(rf"^Epoch {before}/400"), timeout=60_000)
            page.wait_for_timeout(1500)
            expect(message).to_be_visible()
            # a changed value clears it
            field.fill("0.0001")
            field.press("Enter")
            expect(message).to_be_hidden(timeout=60_000)
            deadline = time.time() + 60
            while (run.read_control() or {}).get("lr_g") != pytest.approx(1e-4):
                assert time.time() < deadline, run.read_control()
                time.sleep(0.3)

            # Watched once, remembered: with nothing training, a new tab opens the run looked at.
            manager.stop(run)
            deadline = time.time() + 60
            while run.state() in ("running", "paused"):
                assert time.time() < deadline
                time.sleep(0.5)
            # a newer run that nobody looked at: without the browser's memory it would come first
            from playground.runs import Run, new_run_id

            other = Run(runs / new_run_id("another"))
            other.create(run.read_config().replace(name="another run"))
            other.write_status(state="finished", epoch=0, epochs=1)
            page.goto(f"{url}/explore", timeout=120_000)      # a new page load: a new session
            expect(page.get_by_role("combobox", name="Run")).to_have_value(
                re.compile(r"^training now"), timeout=120_000)
            page.close()
        finally:
            browser.close()
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
