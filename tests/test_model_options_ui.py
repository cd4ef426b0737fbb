"""The Train form shows the architecture options where they apply, and their presets fill it."""

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from test_ui_app import APP, PAGES  # noqa: E402


@pytest.fixture
def train_page(tmp_path, monkeypatch):
    for name in ("runs", "pretrained"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.setenv("GAN_PLAYGROUND_MAX_JOBS", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(PAGES["train"])
    return at.run()


def _keys(at) -> set:
    return {w.key for kind in ("selectbox", "number_input", "text_input", "checkbox") for w in getattr(at, kind)}


def test_downsampling_in_d_is_shown_only_for_convolutional_architectures(train_page):
    at = train_page
    everywhere = {"train.g_activation", "train.g_dropout", "train.minibatch_disc", "train.minibatch_disc_dim",
                  "train.g_steps"}
    assert at.selectbox(key="train.arch").value == "dcgan"
    assert {"train.d_downsample"} | everywhere <= _keys(at)
    at.selectbox(key="train.arch").set_value("mlp").run()
    assert "train.d_downsample" not in _keys(at) and everywhere <= _keys(at)
    assert not any(m.value.startswith(":red") for m in at.markdown)
    assert not next(b for b in at.button if b.label == "Start training").disabled   # still valid
    at.selectbox(key="train.arch").set_value("fccgan").run()
    assert "train.d_downsample" in _keys(at)


def test_the_new_presets_fill_the_form(train_page):
    at = train_page
    at.selectbox(key="train.preset").set_value("fccgan-cifar10-smooth").run()
    assert at.selectbox(key="train.arch").value == "fccgan"
    assert at.selectbox(key="train.dataset").value == "cifar10"
    assert at.text_input(key="train.g_hidden").value == "64, 512"
    assert at.text_input(key="train.d_hidden").value == "256, 128"
    assert at.selectbox(key="train.d_downsample").value == "avgpool"
    assert at.selectbox(key="train.upsample").value == "nearest"
    assert any("checkerboard" in i.value for i in at.info)
    at.selectbox(key="train.preset").set_value("dcgan-128-folder").run()
    assert at.selectbox(key="train.image_size").value == 128
    at.selectbox(key="train.preset").set_value("mlp-faces-g-steps").run()
    assert at.number_input(key="train.g_steps").value == 2
    at.selectbox(key="train.preset").set_value("dcgan-mnist-minibatch-disc").run()
    assert at.number_input(key="train.minibatch_disc").value == 32
    assert not any(m.value.startswith(":red") for m in at.markdown)
