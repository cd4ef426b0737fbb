"""Many watchers: one training run watched by N headless Chromium pages at once.

Starts a real ``streamlit run streamlit_app.py`` on 127.0.0.1 over a fresh runs folder, starts one
small CPU training through the job manager (as the Train page does), opens N pages (one browser
context each, so N separate Streamlit sessions) on ``/watch?run=runs/<id>`` for a bounded time,
and reports: page errors and console errors per page, error elements shown on the pages, error
lines in the server's log, the live view's polls (websocket messages the pages sent), and the
server's CPU time over the window (utime + stime from /proc/<pid>/stat) per poll.

    .venv/bin/python scripts/many_watchers.py --pages 10 --seconds 60 [--json out.json]

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; never downloads a browser.
Everything it starts (server, worker, browser) is stopped before it returns.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A run that trains for a few minutes on one CPU thread, so it is live for the whole window.
WATCHED_RUN = dict(dataset="mnist", data_source="bundled", max_images=2048, batch_size=32, epochs=200,
                   arch="dcgan", g_filters=16, d_filters=16, z_dim=32, log_every=8, sample_count=36,
                   device="cpu", threads=1, seed=0, name="many-watchers")
SERVER_ERROR = re.compile(r"Traceback|Exception|Error", re.I)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (its own threads; not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_group(pid: int, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_server(runs: Path, pretrained: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, GAN_PLAYGROUND_RUNS=str(runs), GAN_PLAYGROUND_PRETRAINED=str(pretrained),
               GAN_PLAYGROUND_MAX_JOBS="1", PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
                                 "--server.headless", "true", "--server.port", str(port),
                                 "--server.address", "127.0.0.1"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            _kill_group(proc.pid)
            raise RuntimeError(f"the Streamlit server did not start; see {log_path}")
        time.sleep(0.3)


def watch(url: str, run_key: str, pages: int, seconds: float, server_pid: int) -> dict:
    from playwright.sync_api import sync_playwright

    per_page = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            opened = []
            for i in range(pages):
                rec = {"page": i, "page_errors": [], "console_errors": [], "failed_requests": [], "sent": 0,
                       "received": 0}
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.on("pageerror", lambda e, rec=rec: rec["page_errors"].append(str(e)[:300]))
                page.on("console", lambda m, rec=rec: m.type == "error" and rec["console_errors"].append(m.text[:300]))
                page.on("requestfailed", lambda r, rec=rec: rec["failed_requests"].append(
                    f"{r.url[:200]} ({r.failure})"))
                page.on("response", lambda r, rec=rec: r.status >= 400 and rec["failed_requests"].append(
                    f"{r.url[:200]} (HTTP {r.status})"))

                def on_ws(ws, rec=rec):
                    ws.on("framesent", lambda _: rec.__setitem__("sent", rec["sent"] + 1))
                    ws.on("framereceived", lambda _: rec.__setitem__("received", rec["received"] + 1))
                page.on("websocket", on_ws)
                t_open = time.monotonic()
                page.goto(f"{url}/watch?run={run_key}", wait_until="domcontentloaded", timeout=180_000)
                rec["open_s"] = round(time.monotonic() - t_open, 2)
                opened.append((page, rec))
            for page, _ in opened:  # every page has drawn the Watch page once
                page.wait_for_selector("[data-testid='stMainBlockContainer']", timeout=120_000)
            start_sent = sum(rec["sent"] for _, rec in opened)
            t0, cpu0 = time.monotonic(), cpu_seconds(server_pid)
            while time.monotonic() - t0 < seconds:
                opened[0][0].wait_for_timeout(500)  # keeps Playwright's event loop turning
            cpu1, t1 = cpu_seconds(server_pid), time.monotonic()
            for page, rec in opened:
                rec["exceptions_shown"] = page.locator("[data-testid='stException']").count()
                rec["errors_shown"] = [t[:200] for t in page.locator("[data-testid='stAlertContentError']").all_inner_texts()]
                headings = page.locator("[data-testid='stHeading']").all_inner_texts()  # st.title
                rec["heading"] = headings[0][:80] if headings else ""
                per_page.append(rec)
            polls = sum(rec["sent"] for _, rec in opened) - start_sent
        finally:
            browser.close()
    return {"pages": per_page, "polls": polls, "window_s": round(t1 - t0, 1), "server_cpu_s": cpu1 - cpu0}


def classify_failed_requests(failed: list[str], url: str) -> tuple[dict, list[str]]:
    """Split failed requests into known, harmless kinds and the rest.

    - ``base_path_probe``: ``<url>/<page>/_stcore/...`` answered 404: Streamlit's client, opened on
      a page's URL, first looks for the server under that path and then at the root (where it is).
    - ``offline_external``: anything outside this server (the machine is offline by design).
    Everything else (a 404 or 500 of this server's own files) is unexplained."""
    explained: dict[str, list[str]] = {"base_path_probe": [], "offline_external": []}
    unexplained = []
    for item in failed:
        if not item.startswith(url):
            explained["offline_external"].append(item)
        elif re.match(re.escape(url) + r"/[A-Za-z0-9_-]+/_stcore/\S+ \(HTTP 404\)$", item):
            explained["base_path_probe"].append(item)
        else:
            unexplained.append(item)
    return explained, unexplained


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")

    from playground.config import TrainConfig
    from playground.jobs import JobManager
    from tests.support.reliability import stop_all

    work = Path(tempfile.mkdtemp(prefix="many-watchers-"))
    runs, pretrained = work / "runs", work / "pretrained"
    runs.mkdir()
    pretrained.mkdir()
    log_path = work / "server.log"
    server = None
    result: dict = {"pages_opened": args.pages, "work_dir": str(work)}
    try:
        cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **WATCHED_RUN}).validate()
        run = JobManager(runs, max_jobs=1).submit(cfg, "watched")
        server, url = start_server(runs, pretrained, log_path)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        seen = watch(url, f"runs/{run.id}", args.pages, args.seconds, server.pid)
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()
        status = run.read_status()
        log_text = log_path.read_text(errors="replace")
        bad_lines = [line for line in log_text.splitlines() if SERVER_ERROR.search(line)]
        pages = seen["pages"]
        result.update(
            url_path=f"/watch?run=runs/{run.id}", window_s=seen["window_s"],
            page_errors=sum(len(p["page_errors"]) for p in pages),
            console_errors=sum(len(p["console_errors"]) for p in pages),
            exceptions_shown=sum(p["exceptions_shown"] for p in pages),
            errors_shown=sum(len(p["errors_shown"]) for p in pages),
            failed_requests=sorted({u for p in pages for u in p["failed_requests"]}),
            server_log_error_lines=bad_lines[:20], polls=seen["polls"],
            polls_per_page_per_s=round(seen["polls"] / max(len(pages) * seen["window_s"], 1e-9), 3),
            server_cpu_s_window=round(seen["server_cpu_s"], 2),
            server_cpu_ms_per_poll=round(1000 * seen["server_cpu_s"] / max(seen["polls"], 1), 1),
            server_cpu_s_total=round(cpu1 - cpu0, 2), elapsed_s=round(t1 - t0, 1),
            run_state=run.state(), run_epoch=status.get("epoch"), run_step=status.get("step"),
            per_page=pages)
        explained, unexplained = classify_failed_requests(result["failed_requests"], url)
        other_console = [m for p in pages for m in p["console_errors"] if not m.startswith("Failed to load resource")]
        result.update(failed_requests_explained=explained, failed_requests_unexplained=unexplained,
                      console_errors_unexplained=other_console[:20])
        result["ok"] = (result["page_errors"] == 0 and not other_console and not unexplained
                        and result["exceptions_shown"] == 0 and result["errors_shown"] == 0
                        and not bad_lines and result["run_state"] == "running" and seen["polls"] > 0
                        and all(WATCHED_RUN["name"] in p["heading"] for p in pages))
        result["pages_showing_the_run"] = sum(WATCHED_RUN["name"] in p["heading"] for p in pages)
    finally:
        if server is not None:
            _kill_group(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill_group(server.pid)
                server.wait()
        stop_all(runs)
        if result.get("ok"):
            shutil.rmtree(work, ignore_errors=True)  # kept (with the server log) when something failed
    summary = {k: v for k, v in result.items() if k != "per_page"}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main().get("ok") else 1)
