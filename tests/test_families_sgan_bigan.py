"""The semi-supervised GAN and BiGAN families: tiny real training runs on the CPU."""

import json
import math

import numpy as np
import pytest
import torch

from playground import latent, registry, sampling
from playground.data import load_dataset
from playground.families import Batch, build_step
from playground.families import sgan as sgan_mod
from playground.families.bigan import BiGan, Encoder, JointDiscriminator
from playground.families.sgan import SemiSupervisedGan, feature_matching, real_probability, unsupervised_loss
from playground.runs import Run
from playground.speed import resolve
from playground.training import Hooks, Trainer, model_spec
from playground.worker import train_run


def _data(cfg):
    return load_dataset(cfg.dataset, max_images=cfg.max_images, seed=cfg.seed, source="bundled",
                        device=torch.device("cpu"))


def _train(tmp_path, cfg, name="run"):
    run = Run(tmp_path / name)
    run.create(cfg)
    assert train_run(run, echo=False) == 0, (run.path / "log.txt").read_text()
    return run


@pytest.fixture(autouse=True)
def short_baseline(monkeypatch):
    """The supervised-only baseline with 40 updates instead of the run's 300: same code, faster."""
    monkeypatch.setattr(sgan_mod, "BASELINE_STEPS", 40)


def _records(run, kind):
    return [r for r in run.read_metrics()[0] if r.get("type") == kind]


# ----------------------------------------------------------------------------- semi-supervised GAN
def test_sgan_real_probability_is_z_over_z_plus_one_in_closed_form():
    logits = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-30.0, -30.0, -30.0]])
    z = logits.exp().sum(1)
    assert torch.allclose(real_probability(logits), z / (z + 1), atol=1e-7)
    fake = torch.tensor([[2.0, -1.0, 0.0]])
    zf = fake.exp().sum(1)
    expected = -torch.log(z / (z + 1)).mean() - torch.log(1 - zf / (zf + 1)).mean()
    assert unsupervised_loss(logits, fake).item() == pytest.approx(expected.item(), rel=1e-5)
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert feature_matching(h, torch.zeros(2, 2)).item() == pytest.approx(2.0 ** 2 + 3.0 ** 2)


def test_sgan_labelled_subset_is_class_balanced_and_test_images_are_never_trained_on(tiny_cfg):
    cfg = tiny_cfg(family="sgan", labelled=20)
    data = _data(cfg)
    train, lab, test = sgan_mod.split_indices(data, cfg)
    y = data.y.numpy()
    assert len(lab) == 20 and len(set(lab)) == 20 and set(lab) <= set(train)
    assert np.bincount(y[lab], minlength=10).tolist() == [2] * 10          # 2 labels per class
    assert len(test) == len(y) // 5 and not set(test) & set(train) and len(train) + len(test) == len(y)
    counts = np.bincount(y[test], minlength=10)
    assert counts.max() - counts.min() <= 1                               # class-balanced test split
    again = sgan_mod.split_indices(data, cfg)                             # fixed by data + seed
    assert all(np.array_equal(a, b) for a, b in zip((train, lab, test), again))
    other = sgan_mod.split_indices(data, cfg.replace(seed=1))
    assert not np.array_equal(other[1], lab)
    # the loop draws its batches from the training images alone
    run_perm = torch.from_numpy(train)[torch.randperm(len(train))]
    assert not set(run_perm.tolist()) & set(test.tolist())
    with pytest.raises(ValueError, match="labelled"):
        sgan_mod.split_indices(data, cfg.replace(labelled=len(train) + 1))


def test_sgan_step_trains_d_as_a_classifier_and_g_by_feature_matching(tiny_cfg):
    cfg = tiny_cfg(family="sgan", labelled=10)
    data = _data(cfg)
    spec = model_spec(cfg, data.info)
    assert spec.d_outputs == 10 and spec.num_classes == 0 and not spec.d_labels
    torch.manual_seed(0)
    step = build_step(cfg, spec, resolve(cfg, spec, torch.device("cpu")), torch.device("cpu"), 4)
    assert isinstance(step, SemiSupervisedGan) and not step.wants_labels
    step.use_data(data)
    assert step.x_lab.shape[0] == 10 and sorted(step.y_lab.tolist()) == list(range(10))
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in step.modules.items()}
    x = data.x[:8].float().div(127.5).sub(1)
    batch = Batch(x, None, epoch=1, index=0, measure=True)
    d = step.d_step(batch)
    g = step.g_step(batch)
    step.end_step()
    assert set(d) == set(step.D_STATS) | {"grad_norm_d"} and set(g) == {"loss_g", "grad_norm_g"}
    assert all(torch.isfinite(v) for v in {**d, **g}.values())
    assert d["loss_d"].item() == pytest.approx(d["loss_sup"].item() + d["loss_unsup"].item(), rel=1e-5)
    assert 0 < d["d_real"].item() < 1 and 0 < d["d_fake"].item() < 1
    for k, m in step.modules.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), k


def test_sgan_trains_through_the_trainer_and_records_both_accuracies(tmp_path, tiny_cfg):
    cfg = tiny_cfg(family="sgan", labelled=10, epochs=2)
    run = _train(tmp_path, cfg)
    epochs = _records(run, "epoch")
    assert [r["epoch"] for r in epochs] == [1, 2]
    for r in epochs:
        for k in ("loss_d", "loss_g", "loss_sup", "loss_unsup", "d_real", "d_fake", "acc_labelled"):
            assert r[k] is not None and math.isfinite(r[k]), (k, r)
    acc = _records(run, "sgan")
    assert [r["epoch"] for r in acc] == [0, 1, 2]
    for r in acc:
        assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["baseline_accuracy"] <= 1
        assert r["labelled"] == 10 and r["test_images"] == 8 and r["baseline_steps"] == sgan_mod.BASELINE_STEPS
    assert len({r["baseline_accuracy"] for r in acc}) == 1                 # computed once, a flat line
    status = run.read_status()
    assert status["steps_per_epoch"] == 32 // 8                             # 40 images, 8 held out
    chart = registry.FAMILIES["sgan"].charts[0]
    assert chart.record_type == "sgan" and chart.percent
    assert {k for k, _ in chart.series} <= set(acc[0])


def test_sgan_baseline_is_the_same_network_on_the_same_labels_and_leaves_the_rng_alone(tiny_cfg):
    cfg = tiny_cfg(family="sgan", labelled=10)
    data = _data(cfg)
    spec = model_spec(cfg, data.info)
    torch.manual_seed(0)
    step = build_step(cfg, spec, resolve(cfg, spec, torch.device("cpu")), torch.device("cpu"), 4)
    step.use_data(data)
    state = torch.get_rng_state()
    D = sgan_mod.train_baseline(spec, cfg, step.x_lab, step.y_lab, steps=150)
    assert torch.equal(torch.get_rng_state(), state)
    assert type(D) is type(step.discriminator)
    assert [p.shape for p in D.parameters()] == [p.shape for p in step.discriminator.parameters()]
    # trained on the labelled images, it classifies them (it has seen nothing else)
    assert sgan_mod.accuracy(D, step.x_lab, step.y_lab) >= 0.8


# ----------------------------------------------------------------------------- BiGAN
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_bigan_encoder_shape_and_the_round_trip(arch, tiny_cfg):
    cfg = tiny_cfg(family="bigan", arch=arch)
    data = _data(cfg)
    spec = model_spec(cfg, data.info)
    torch.manual_seed(0)
    step = build_step(cfg, spec, resolve(cfg, spec, torch.device("cpu")), torch.device("cpu"), 4)
    assert isinstance(step, BiGan) and set(step.modules) == {"G", "E", "D"}
    assert isinstance(step.modules["E"], Encoder) and isinstance(step.discriminator, JointDiscriminator)
    x = data.x[:5].float().div(127.5).sub(1)
    z = step.modules["E"](x)
    assert z.shape == (5, cfg.z_dim)
    assert step.modules["G"](z).shape == x.shape                        # G(E(x)) has x's shape
    assert step.discriminator(x, z).shape == (5,)
    one = Encoder(spec.__class__(**{**spec.to_dict(), "z_dim": 1}))
    assert one(x).shape == (5, 1)
    step.use_data(data)
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in step.modules.items()}
    batch = Batch(data.x[:8].float().div(127.5).sub(1), None, 1, 0, True)
    stats = {**step.d_step(batch), **step.g_step(batch)}
    step.end_step()
    assert all(torch.isfinite(v) for v in stats.values())
    for k, m in step.modules.items():                                   # G, E and D all moved
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), k
    recon, lat = step.errors()
    x64 = step.fixed_x.float().div(127.5).sub(1)
    G, E = step.modules["G"].eval(), step.modules["E"].eval()
    with torch.no_grad():
        assert recon == pytest.approx((x64 - G(E(x64))).abs().mean().item(), rel=1e-5)


def test_bigan_trains_and_its_snapshots_hold_the_encoder(tmp_path, tiny_cfg):
    cfg = tiny_cfg(family="bigan", epochs=2)
    run = _train(tmp_path, cfg)
    epochs = _records(run, "epoch")
    assert [r["epoch"] for r in epochs] == [1, 2]
    for r in epochs:
        for k in ("loss_d", "loss_g", "d_real", "d_fake"):
            assert r[k] is not None and math.isfinite(r[k])
    errs = _records(run, "bigan")
    assert [r["epoch"] for r in errs] == [0, 1, 2]
    assert all(0 <= r["recon_error"] <= 2 and r["latent_error"] >= 0 for r in errs)
    assert all(0 <= r["recon_same_class"] <= 1 for r in errs)          # MNIST has a quality classifier
    charts = registry.FAMILIES["bigan"].charts
    assert {k for c in charts for k, _ in c.series} <= set(errs[0])
    G, _, meta, extra = sampling.load_snapshot(run, 2, with_extra=True)
    assert set(extra) == {"E"} and not extra["E"].training
    gen = latent.load_generator(run, 2)
    assert gen.E is not None
    real = latent.real_examples(run, 3)
    codes = latent.encode_images(gen, real)
    assert codes.shape == (3, cfg.z_dim)
    back = latent.reconstruct(gen, real)
    assert back.shape == real.shape and back.dtype == np.uint8
    # a plain GAN's snapshot has no encoder
    plain = _train(tmp_path, tiny_cfg(), "plain")
    assert latent.load_generator(plain, 1).E is None


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("family", ["sgan", "bigan"])
def test_resume_continues_each_family_exactly(tmp_path, tiny_cfg, family):
    cfg = tiny_cfg(family=family, epochs=2, arch="mlp", dropout=0.0, labelled=10)
    straight = _train(tmp_path, cfg, "straight")
    split = _train(tmp_path, cfg.replace(epochs=1), "split")
    assert train_run(split, resume=True, epochs=2, echo=False) == 0
    kind = "sgan" if family == "sgan" else "bigan"
    for t in ("epoch", kind):
        a = [{k: v for k, v in r.items() if k not in ("time", "epoch_seconds", "images_per_s")}
             for r in _records(straight, t)]
        b = [{k: v for k, v in r.items() if k not in ("time", "epoch_seconds", "images_per_s")}
             for r in _records(split, t)]
        assert len(a) == len(b) > 0
        for ra, rb in zip(a, b):
            assert ra.keys() == rb.keys()
            for k in ra:
                same = rb[k] == ra[k] if not isinstance(ra[k], float) else rb[k] == pytest.approx(ra[k], rel=1e-5)
                assert same, (t, k, ra[k], rb[k])
    wa = sampling.load_snapshot(straight, 2, with_extra=True)
    wb = sampling.load_snapshot(split, 2, with_extra=True)
    for ma, mb in [(wa[0], wb[0])] + [(wa[3][k], wb[3][k]) for k in wa[3]]:
        for pa, pb in zip(ma.state_dict().values(), mb.state_dict().values()):
            assert torch.allclose(pa.float(), pb.float(), rtol=1e-5, atol=1e-6)


def test_presets_of_the_families_validate():
    from playground.presets import get_preset

    for name, family in (("sgan-mnist", "sgan"), ("sgan-fashion", "sgan"), ("bigan-mnist", "bigan")):
        cfg = get_preset(name).config()
        assert cfg.family == family
    assert get_preset("sgan-mnist").config().labelled == 100


# ----------------------------------------------------------------------------- the encode CLI
@pytest.fixture(scope="module")
def bigan_run(tmp_path_factory):
    import conftest
    from playground.config import TrainConfig

    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **conftest.TINY_IMAGES, "family": "bigan",
                                 "epochs": 1, "name": "tiny bigan"}).validate()
    run = Run(tmp_path_factory.mktemp("bigan") / "run")
    run.create(cfg)
    assert train_run(run, echo=False) == 0
    return run


def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "playground", *map(str, args)], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_encode_cli_writes_one_latent_vector_per_image(tmp_path, bigan_run):
    z_dim = bigan_run.read_config().z_dim
    real = latent.real_examples(bigan_run, 5)                           # uint8 [5, 28, 28, 1]
    np.save(tmp_path / "grey.npy", real[..., 0])                        # [N, H, W]
    np.save(tmp_path / "hwc.npy", real)                                 # [N, H, W, C]
    np.save(tmp_path / "float.npy", real.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1)
    outs = []
    for name in ("grey", "hwc", "float"):
        r = _cli("encode", "--run-dir", bigan_run.path, "--images", tmp_path / f"{name}.npy",
                 "--out", tmp_path / f"z_{name}.npy", "--epoch", 1)
        assert r.returncode == 0, r.stderr
        z = np.load(tmp_path / f"z_{name}.npy", allow_pickle=False)
        assert z.shape == (5, z_dim) and z.dtype == np.float32 and np.isfinite(z).all()
        outs.append(z)
    assert np.allclose(outs[0], outs[1]) and np.allclose(outs[0], outs[2], atol=1e-5)
    gen = latent.load_generator(bigan_run, 1)
    assert np.allclose(outs[0], latent.encode_images(gen, real).numpy(), atol=1e-6)


@pytest.mark.parametrize("array, message", [
    (np.zeros((2, 14, 14), np.uint8), "must be shaped"),
    (np.zeros((2, 28, 28, 3), np.uint8), "must be shaped"),
    (np.zeros((2, 1, 28, 28), np.float32) + 3, "[-1, 1]"),
    (np.full((2, 1, 28, 28), np.nan, np.float32), "NaN"),
    (np.zeros((2, 28, 28), np.int64), "uint8 pixels or floats"),
    (np.zeros((0, 28, 28), np.uint8), "no images"),
    (np.array([{"a": 1}], dtype=object), "readable .npy"),
])
def test_encode_cli_refuses_bad_images_with_a_message(tmp_path, bigan_run, array, message):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    r = _cli("encode", "--run-dir", bigan_run.path, "--images", tmp_path / "bad.npy", "--out", tmp_path / "z.npy")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "z.npy").exists()


def test_encode_cli_refuses_a_run_without_an_encoder_and_other_files(tmp_path, bigan_run, tiny_cfg):
    plain = _train(tmp_path, tiny_cfg(), "plain")
    np.save(tmp_path / "ok.npy", np.zeros((1, 28, 28), np.uint8))
    r = _cli("encode", "--run-dir", plain.path, "--images", tmp_path / "ok.npy", "--out", tmp_path / "z.npy")
    assert r.returncode == 2 and "no encoder" in r.stderr
    (tmp_path / "x.txt").write_text("hi")
    r = _cli("encode", "--run-dir", bigan_run.path, "--images", tmp_path / "x.txt", "--out", tmp_path / "z.npy")
    assert r.returncode == 2 and ".npy" in r.stderr
    r = _cli("encode", "--run-dir", bigan_run.path, "--images", tmp_path / "ok.npy", "--out", tmp_path / "z.png")
    assert r.returncode == 2 and "--out" in r.stderr


def test_uploaded_pictures_are_resized_to_the_run_and_bad_files_refused(bigan_run):
    import io

    from PIL import Image

    gen = latent.load_generator(bigan_run, 1)
    buf = io.BytesIO()
    Image.new("RGB", (90, 60), (200, 10, 10)).save(buf, format="JPEG")
    x = latent.decode_upload(gen, buf.getvalue(), "photo.jpg")
    assert x.shape == (28, 28, 1) and x.dtype == np.uint8
    assert latent.reconstruct(gen, x[None]).shape == (1, 28, 28, 1)
    with pytest.raises(ValueError, match="not a PNG or JPEG"):
        latent.decode_upload(gen, b"GIF89a....", "anim.gif")
    with pytest.raises(ValueError, match="cannot be read"):
        latent.decode_upload(gen, buf.getvalue()[:40], "cut.jpg")


# ----------------------------------------------------------------------------- every page
@pytest.fixture(scope="module")
def family_runs(tmp_path_factory, bigan_run):
    import shutil

    import conftest
    from playground.config import TrainConfig

    root = tmp_path_factory.mktemp("family_pages")
    runs, empty = root / "runs", root / "empty"
    runs.mkdir()
    empty.mkdir()
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **conftest.TINY_IMAGES, "family": "sgan",
                                 "labelled": 10, "epochs": 1, "name": "tiny sgan"}).validate()
    run = Run(runs / "sgan")
    run.create(cfg)
    sgan_mod.BASELINE_STEPS, saved = 40, sgan_mod.BASELINE_STEPS
    try:
        assert train_run(run, echo=False) == 0
    finally:
        sgan_mod.BASELINE_STEPS = saved
    shutil.copytree(bigan_run.path, runs / "bigan")
    return {"runs": runs, "empty": empty}


def _page(monkeypatch, roots, page, **params):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(roots["runs"]))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(roots["empty"]))
    if page in ("explore.py", "compare.py", "toy.py"):
        at = AppTest.from_file(str(root / "playground" / "ui" / "pages" / page), default_timeout=60)
    else:
        at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=60)
        if page != "home":
            at.switch_page(f"playground/ui/pages/{page}")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("page", ["home", "train.py", "watch.py", "runs.py", "explore.py", "compare.py", "toy.py"])
@pytest.mark.parametrize("run", ["runs/sgan", "runs/bigan"])
def test_every_page_renders_a_run_of_each_family(monkeypatch, family_runs, page, run):
    pytest.importorskip("streamlit")
    _page(monkeypatch, family_runs, page, run=run, a=run, b="runs/sgan")


def test_the_latent_explorer_finds_a_real_image_of_a_bigan_run(monkeypatch, family_runs):
    at = _page(monkeypatch, family_runs, "explore.py", run="runs/bigan")
    captions = [img.proto.imgs[0].caption for img in at.image if img.proto.imgs]
    assert any(c.startswith("G(E(x))") for c in captions) and any("then b" in c for c in captions)
    def shown(at, start):
        return [img.proto.imgs[0].url for img in at.image
                if img.proto.imgs and img.proto.imgs[0].caption.startswith(start)]

    before = shown(at, "x (the image)")
    at.selectbox(key="lx_enc_pick").set_value(3).run()
    assert not at.exception and not at.error
    assert shown(at, "x (the image)") != before and shown(at, "G(E(x))")   # another image, redrawn
    plain = _page(monkeypatch, family_runs, "explore.py", run="runs/sgan")       # no encoder: no section
    assert "Find an image in the latent space" not in [h.value for h in plain.subheader]
