"""AppTest of the latent explorer, compare and 2D toy pages on tiny real runs."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_IMAGES, TINY_TOY
from streamlit.testing.v1 import AppTest

from playground.config import TrainConfig
from playground.runs import Run
from playground.worker import train_run

PAGES = Path(__file__).resolve().parent.parent / "playground" / "ui" / "pages"
TIMEOUT = 60


def _cfg(base, **over):
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **base, **over}).validate()


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """A runs folder with a GAN (mlp), a DCGAN, a conditional GAN and a 2D toy run, 2 epochs each."""
    base = tmp_path_factory.mktemp("ui_explore")
    runs, empty = base / "runs", base / "empty"
    empty.mkdir()
    for rid, cfg in (("gan", _cfg(TINY_IMAGES, arch="mlp", epochs=2, name="tiny gan")),
                     ("dcgan", _cfg(TINY_IMAGES, arch="dcgan", epochs=2, name="tiny dcgan")),
                     ("cgan", _cfg(TINY_IMAGES, arch="mlp", conditional=True, epochs=1, name="tiny cgan")),
                     ("toy", _cfg(TINY_TOY, epochs=2, name="tiny ring"))):
        run = Run(runs / rid)
        run.create(cfg)
        assert train_run(run, echo=False) == 0, (run.path / "log.txt").read_text()
    return {"runs": runs, "empty": empty}


def _app(monkeypatch, roots, page, runs=True, **params):
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(roots["runs"] if runs else roots["empty"]))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(roots["empty"]))
    at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _plain(markdown: str) -> str:
    """Escaped Markdown as it reads: without the backslashes and the invisible word joiners."""
    return markdown.replace("\\", "").replace("\u2060", "")


def _image_url(at, caption_start):
    urls = [img.proto.imgs[0].url for img in at.image
            if img.proto.imgs and _plain(img.proto.imgs[0].caption).startswith(caption_start)]
    assert urls, f"no image captioned {caption_start!r}"
    return urls[0]


def _figure(at, index=0):
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def _arr(value):
    """A Plotly array from a chart's JSON: a list, or numpy's bytes in base64 ("bdata")."""
    if isinstance(value, dict) and "bdata" in value:
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value, dtype=float)


def _texts(at):
    return " ".join(e.value for kind in (at.info, at.markdown, at.caption, at.warning, at.success)
                    for e in kind)


@pytest.mark.parametrize("page, hint", [("explore.py", "Train page"), ("compare.py", "Train page"),
                                        ("toy.py", "ring-collapse")])
def test_pages_with_no_runs_give_a_hint(monkeypatch, roots, page, hint):
    at = _app(monkeypatch, roots, page, runs=False)
    assert hint in " ".join(i.value for i in at.info)


@pytest.mark.parametrize("page", ["explore.py", "compare.py", "toy.py"])
@pytest.mark.parametrize("run", ["runs/gan", "runs/dcgan", "runs/cgan", "runs/toy"])
def test_pages_render_for_every_kind_of_run(monkeypatch, roots, page, run):
    at = _app(monkeypatch, roots, page, run=run, a=run, b="runs/toy")
    assert not at.error, [e.value for e in at.error]


def test_latent_slider_changes_the_image(monkeypatch, roots):
    at = _app(monkeypatch, roots, "explore.py", run="runs/gan")
    before = _image_url(at, "G(z)")
    assert at.select_slider(key="lx_z0").value != 2.5
    at.select_slider(key="lx_z0").set_value(2.5).run()
    assert not at.exception
    after = _image_url(at, "G(z)")
    assert after != before
    # the other sections are there: both interpolation strips, the gallery, real images
    _image_url(at, "Straight line")
    _image_url(at, "Great circle")
    _image_url(at, "a − b + c")
    _image_url(at, "Real images")
    # reset puts the sliders back to the seed's values, and so the first image
    at.button(key="lx_reset").click().run()
    assert _image_url(at, "G(z)") == before
    # a new seed moves every slider
    at.number_input(key="lx_seed").set_value(5).run()
    assert at.select_slider(key="lx_z0").value != 2.5 and _image_url(at, "G(z)") != before
    seeded = _image_url(at, "G(z)")
    at.button(key="lx_random").click().run()
    assert at.number_input(key="lx_seed").value != 5 and _image_url(at, "G(z)") != seeded


def test_latent_explorer_epoch_and_class_choice(monkeypatch, roots):
    at = _app(monkeypatch, roots, "explore.py", run="runs/gan")
    latest = _image_url(at, "G(z)")
    at.select_slider(key="lx_epoch_runs/gan").set_value(0).run()
    assert _image_url(at, "G(z) at epoch 0") != latest          # same z, the untrained generator
    at = _app(monkeypatch, roots, "explore.py", run="runs/cgan")
    first = _image_url(at, "G(z)")
    at.selectbox(key="lx_class").set_value(7).run()
    assert _image_url(at, "G(z)") != first
    assert any("“7”" in i.proto.imgs[0].caption for i in at.image)      # real images of class 7


def test_explorer_points_toy_runs_to_the_toy_page(monkeypatch, roots):
    at = _app(monkeypatch, roots, "explore.py", run="runs/toy")
    assert "2D toy" in " ".join(i.value for i in at.info)
    assert not at.image


def test_compare_shared_scrubber_changes_both_grids(monkeypatch, roots):
    at = _app(monkeypatch, roots, "compare.py")
    # by default a GAN (mlp) and a DCGAN on the same data, from the same fixed noise
    assert at.query_params["a"] == "runs/gan" and at.query_params["b"] == "runs/dcgan"
    assert "same fixed noise" in at.success[0].value
    a2, b2 = _image_url(at, "A: "), _image_url(at, "B: ")
    scrubber = at.select_slider[0]
    assert scrubber.options == ["0 (untrained)", "1", "2"] and scrubber.value == 2
    scrubber.set_value(1).run()
    assert not at.exception
    a1, b1 = _image_url(at, "A: "), _image_url(at, "B: ")
    assert a1 != a2 and b1 != b2
    assert "epoch 1" in at.image[0].proto.imgs[0].caption
    # the loss curves of both runs, the selected epoch marked
    fig = _figure(at)
    names = {t.get("name", "") for t in fig["data"]}
    assert {"A: D loss", "A: G loss", "B: D loss", "B: G loss"} <= names
    assert any(s.get("type") == "line" and s.get("x0") == 1 for s in fig["layout"].get("shapes", []))
    table = at.table[0].value   # a static table: every row on the page, none hidden in a scroll box
    assert list(table.columns) == ["metric", "A at epoch 1", "B at epoch 1", "A final (epoch 2)",
                                   "B final (epoch 2)"]
    assert {"D loss", "G loss", "D(x): D on real images", "seconds per epoch"} <= set(table["metric"])
    scrubber.set_value(2).run()        # at the last epoch a "final" column would repeat it
    assert list(at.table[0].value.columns) == ["metric", "A at epoch 2", "B at epoch 2"]


def test_compare_warns_when_the_noise_differs(monkeypatch, roots):
    at = _app(monkeypatch, roots, "compare.py", a="runs/gan", b="runs/toy")
    assert "not" in at.warning[0].value and "z_dim 8 and 2" in at.warning[0].value


def test_toy_page_shows_surface_points_and_arrows(monkeypatch, roots):
    at = _app(monkeypatch, roots, "toy.py")
    assert at.query_params["run"] == "runs/toy"
    fig = _figure(at)
    by_name = {t.get("name"): t for t in fig["data"]}
    heat = by_name["D's view"]
    surface = _arr(heat["z"])
    assert heat["type"] == "heatmap" and surface.shape == (96, 96)
    assert 0.0 <= surface.min() and surface.max() <= 1.0
    # the tiny run has 64 real points (max_images); the generator draws 512 fixed-noise points
    assert len(_arr(by_name["real data"]["x"])) == 64 and len(_arr(by_name["generated"]["x"])) == 512
    arrows = _arr(by_name["generator's push"]["x"])
    assert len(arrows) == 7 * 128                             # 128 arrows of 7 line points each
    assert np.isfinite(arrows).sum() == 5 * 128               # NaN breaks between the strokes
    text = _texts(at)
    assert "orange" in text and "Arrows" in text and "Mode collapse" in text
    # another epoch: another surface
    at.select_slider[0].set_value(0).run()
    assert not at.exception
    assert not np.array_equal(_arr(_figure(at)["data"][0]["z"]), surface)
    # arrows can be hidden
    at.toggle(key="toy_arrows").set_value(False).run()
    assert "generator's push" not in {t.get("name") for t in _figure(at)["data"]}


# ----------------------------------------------------------------------------- compare helpers
def test_shared_epochs_and_nearest():
    from playground.ui import compare_data as cd

    assert cd.shared_epochs([0, 1, 2, 5], [0, 2, 5, 10]) == ([0, 2, 5], True)
    assert cd.shared_epochs([0, 3], [1, 4]) == ([0, 1, 3, 4], False)     # nothing in common: each its nearest
    assert cd.shared_epochs([], [0, 1]) == ([], True)
    assert cd.nearest([0, 5, 10], 7) == 5 and cd.nearest([0, 5, 10], 8) == 10
    assert cd.nearest([0, 4, 6], 5) == 4 and cd.nearest([], 3) is None


def test_metrics_table_shows_what_is_present_and_nothing_else():
    from playground.ui import compare_data as cd

    a = cd._flat({"type": "epoch", "epoch": 3, "loss_d": 1.25, "loss_g": 0.75, "d_real": None,
                  "quality": {"available": True, "fd": 12.5, "n": 2000}})
    b = {"type": "epoch", "epoch": 3, "loss_d": 0.5, "images_per_s": 1234.0}
    rows = cd.metrics_table({"A": a, "B": b, "none": None})
    by_metric = {r["metric"]: r for r in rows}
    assert list(by_metric) == ["D loss", "G loss", "images per second",
                               "Fréchet distance in classifier features (lower is better)"]
    assert by_metric["D loss"] == {"metric": "D loss", "A": "1.25", "B": "0.5", "none": "—"}
    assert by_metric["G loss"]["B"] == "—" and by_metric["images per second"]["B"] == "1,234"
    assert cd.metrics_table({"A": None}) == []


def test_default_pair_prefers_gan_and_dcgan_on_the_same_data(monkeypatch, roots):
    from playground.ui import common
    from playground.ui import compare_data as cd

    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(roots["runs"]))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(roots["empty"]))
    assert cd.default_pair(common.all_runs()) == ("runs/gan", "runs/dcgan")
    toy_only = [r for r in common.all_runs() if r.key == "runs/toy"]
    assert cd.default_pair(toy_only) == ("runs/toy", None)
