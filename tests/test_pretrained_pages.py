"""What a class sees first works on a fresh machine: every pretrained run's config points inside the
repository, and no page of any pretrained run shows a path of the machine it runs on (or of the one
that trained it)."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.data import BUNDLED_FILES
from playground.runs import Run

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
RUNS = sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file())
APP = str(ROOT / "streamlit_app.py")
# a folder of a machine: an absolute path, a parent-relative one, this checkout, the upload store
MACHINE_PATH = re.compile(r"(?<![\w.:/])(/(?:work|home|tmp|root|usr|var|srv|mnt|opt)/|\.\./|~/)|_uploads")


@pytest.mark.parametrize("name", RUNS)
def test_config_points_inside_the_repository(name):
    doc = json.loads((PRETRAINED / name / "config.json").read_text())
    cfg, data = doc["config"], doc.get("data") or {}
    if cfg["dataset"] in BUNDLED_FILES:   # the real images come from the bundled subset
        assert cfg["data_source"] == "bundled" and cfg["data_dir"] == "", cfg
    else:
        assert cfg["data_dir"] == "", cfg
    assert "/" not in str(data.get("location", "")) and not MACHINE_PATH.search(str(data.get("notes", "")))
    assert "is_test" not in str(data.get("notes", ""))
    assert not MACHINE_PATH.search((PRETRAINED / name / "log.txt").read_text())


def _texts(at) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
             "code", "metric", "selectbox", "table", "dataframe", "exception")
    parts = []
    for kind in kinds:
        for e in getattr(at, kind, []):
            for attr in ("value", "label", "options", "help"):
                parts.append(str(getattr(e, attr, "")))
    parts += [img.proto.imgs[0].caption for img in at.get("image") if img.proto.imgs]
    return "\n".join(parts)


def _pages(name: str) -> list[tuple[str, dict]]:
    cfg = Run(PRETRAINED / name).read_config()
    key = f"pretrained/{name}"
    pages = [("watch", {"run": key}), ("explore", {"run": key}), ("runs", {"run": key}),
             ("compare", {"a": key, "b": key})]
    if cfg.is_toy:
        pages.append(("toy", {"run": key}))
    return pages


@pytest.mark.parametrize("name", RUNS)
def test_no_page_of_a_pretrained_run_shows_a_machine_path(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(PRETRAINED))
    for page, params in _pages(name):
        at = AppTest.from_file(APP, default_timeout=120)
        for k, v in params.items():
            at.query_params[k] = v
        at.switch_page(f"playground/ui/pages/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        text = _texts(at)
        assert not MACHINE_PATH.search(text), (page, MACHINE_PATH.search(text).group(0),
                                                text[max(0, MACHINE_PATH.search(text).start() - 200):][:400])
        assert str(ROOT) not in text and "does not exist" not in text, page
