"""What the real-browser tests share: Debian's Chromium (never a browser downloaded by a test
tool), and a real `streamlit run` server over run folders of the test's own."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def need_browser():
    """Skip without a browser, unless the test script demands one (then it is a failure)."""
    why = None
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "the playwright package is missing (pip install -r requirements-dev.txt)"
    if why:
        if os.environ.get("GAN_PLAYGROUND_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required but {why}")
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(pid) -> None:
    try:
        os.killpg(int(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, TypeError, ValueError):
        pass


def start_server(log_path: Path, runs: Path, pretrained: Path, wait_s: float = 60):
    """A `streamlit run` of the app over these folders, once it answers its health check;
    (process, url). The process runs in a session of its own (stop it with :func:`stop_server`)."""
    port = free_port()
    env = dict(os.environ, GAN_PLAYGROUND_RUNS=str(runs), GAN_PLAYGROUND_PRETRAINED=str(pretrained),
               GAN_PLAYGROUND_MAX_JOBS="1", PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
             "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + wait_s
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                kill_group(proc.pid)
                pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)


def stop_server(proc, runs: Path) -> None:
    """End the server and every worker it started (workers run in sessions of their own)."""
    for status in runs.glob("*/status.json"):
        try:
            kill_group(json.loads(status.read_text()).get("pid"))
        except (OSError, ValueError):
            pass
    kill_group(proc.pid)
    proc.wait(timeout=10)
