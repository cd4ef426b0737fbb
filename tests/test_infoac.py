"""AC-GAN and InfoGAN: their steps, losses in closed form, training through the loop, exact resume,
the CLI's codes, the latent explorer's codes and every page on a run of each family."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground import cli, latent, quality, registry, sampling
from playground.config import ConfigError, TrainConfig
from playground.data import load_dataset
from playground.families import Batch, build_step
from playground.families.acgan import ACGanStep
from playground.families.infogan import InfoGanStep, info_loss
from playground.runs import Run
from playground.speed import resolve
from playground.training import model_spec
from playground.worker import train_run

from conftest import ROOT, TINY_IMAGES

FAMILIES = ("acgan", "infogan")
APP = str(ROOT / "streamlit_app.py")


def _cfg(**over):
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **TINY_IMAGES, **over}).validate()


def _step(cfg, steps_per_epoch=4):
    data = load_dataset(cfg.dataset, max_images=cfg.max_images, seed=0, source="bundled",
                        device=torch.device("cpu"))
    spec = model_spec(cfg, data.info)
    torch.manual_seed(0)
    return build_step(cfg, spec, resolve(cfg, spec, torch.device("cpu")), torch.device("cpu"),
                      steps_per_epoch), data


def _batch(step, data, n=8, measure=True):
    x = data.x[:n].float().div(127.5).sub(1)
    return Batch(x, data.y[:n] if step.wants_labels else None, epoch=1, index=0, measure=measure)


def _train(tmp_path, name, **over):
    run = Run(tmp_path / name)
    run.create(_cfg(**over))
    assert train_run(run, echo=False) == 0, (run.path / "log.txt").read_text()
    return run


# ----------------------------------------------------------------------------- the steps
@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_acgan_spec_and_one_step_of_each_network(arch):
    step, data = _step(_cfg(family="acgan", arch=arch))
    assert isinstance(step, ACGanStep) and step.wants_labels
    spec = step.spec
    assert spec.num_classes == 10 and spec.d_outputs == 11 and not spec.d_labels and spec.label_role == "class"
    G, D = step.generator, step.discriminator
    assert D.num_classes == 0 and G.num_classes == 10
    assert D(torch.zeros(3, 1, 28, 28)).shape == (3, 11)
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in step.modules.items()}
    batch = _batch(step, data)
    d, g = step.d_step(batch), step.g_step(batch)
    step.end_step()
    assert set(d) == set(step.D_STATS) | {"grad_norm_d"} and set(g) == set(step.G_STATS) | {"grad_norm_g"}
    assert {"acc_real", "acc_fake", "class_loss"} <= set(d) and "class_loss_g" in g
    assert all(v.dim() == 0 and torch.isfinite(v) for v in {**d, **g}.values())
    assert 0 <= d["acc_real"] <= 1 and 0 <= d["acc_fake"] <= 1
    for k, m in step.modules.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), k


def test_acgan_class_loss_in_closed_form():
    """D's extra loss is aux_weight * (CE(real classes) + CE(fake classes)); G's the fake term."""
    step, data = _step(_cfg(family="acgan", aux_weight=0.5))
    # two images, 3 of D's outputs shown: [adversarial, class 0, class 1, 0 ...]
    out_real = torch.zeros(2, 11)
    out_real[0, 1], out_real[1, 2] = math.log(3.0), math.log(3.0)    # p(true class) = 3 / 12
    out_fake = torch.zeros(2, 11)
    out_fake[:, 1] = math.log(10.0)                                 # class 0: p = 10 / 19
    step._y_fake = torch.tensor([0, 1])
    batch = Batch(torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]), 1, 0, False)
    extra, stats = step.d_losses(out_real, out_fake, None, batch)
    ce_real = -math.log(3 / 12)
    ce_fake = 0.5 * (-math.log(10 / 19) - math.log(1 / 19))
    assert extra.item() == pytest.approx(0.5 * (ce_real + ce_fake), rel=1e-5)
    assert stats["class_loss"].item() == pytest.approx(0.5 * (ce_real + ce_fake), rel=1e-5)
    assert stats["acc_real"].item() == 1.0 and stats["acc_fake"].item() == 0.5
    g_extra, g_stats = step.g_losses(out_fake, None)
    assert g_extra.item() == pytest.approx(0.5 * ce_fake, rel=1e-5)
    assert g_stats["class_loss_g"].item() == pytest.approx(ce_fake, rel=1e-5)
    # aux_fakes off: D's classifier learns from the real term alone; G's class loss is unchanged
    step, _ = _step(_cfg(family="acgan", aux_weight=0.5, aux_fakes=False))
    step._y_fake = torch.tensor([0, 1])
    extra, stats = step.d_losses(out_real, out_fake, None, batch)
    assert extra.item() == pytest.approx(0.5 * ce_real, rel=1e-5)
    assert stats["acc_fake"].item() == 0.5     # still measured on the fakes
    assert step.g_losses(out_fake, None)[0].item() == pytest.approx(0.5 * ce_fake, rel=1e-5)


def test_info_loss_in_closed_form():
    cat = torch.tensor([[math.log(2.0), 0.0, 0.0], [0.0, 0.0, 0.0]])   # p(code 0) = 1/2, then 1/3
    code = torch.tensor([0, 2])
    means = torch.tensor([[0.5, -1.0], [0.0, 0.0]])
    cont = torch.tensor([[1.0, -1.0], [0.0, 1.0]])
    expected = 0.5 * (-math.log(0.5) - math.log(1 / 3)) + 0.5 * ((0.25 + 0) + (0 + 1)) / 2
    assert info_loss(cat, means, code, cont).item() == pytest.approx(expected, rel=1e-6)
    # no categorical code, or no continuous code: the other term alone
    assert info_loss(cat[:, :0], means, None, cont).item() == pytest.approx(0.3125, rel=1e-6)
    assert info_loss(cat, means[:, :0], code, cont[:, :0]).item() == pytest.approx(
        0.5 * (-math.log(0.5) - math.log(1 / 3)), rel=1e-6)


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_infogan_spec_q_head_and_one_step(arch):
    step, data = _step(_cfg(family="infogan", arch=arch, z_dim=8, info_categories=4, info_continuous=2))
    assert isinstance(step, InfoGanStep) and not step.wants_labels
    spec = step.spec
    assert (spec.z_dim, spec.num_classes, spec.cont_codes, spec.label_role, spec.d_outputs, spec.d_labels) == \
        (10, 4, 2, "code", 1, False)
    assert set(step.modules) == {"G", "D", "Q"} and set(step.optimizers) == {"opt_g", "opt_d"}
    q_params = {id(p) for p in step.modules["Q"].parameters()}
    assert q_params <= {id(p) for grp in step.optimizers["opt_d"].param_groups for p in grp["params"]}
    cat, means = step.modules["Q"](step.discriminator.body(torch.zeros(3, 1, 28, 28)))
    assert cat.shape == (3, 4) and means.shape == (3, 2)
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in step.modules.items()}
    batch = _batch(step, data)
    assert batch.y is None                         # the data's labels are never used
    d, g = step.d_step(batch), step.g_step(batch)
    z = step._z
    assert z[:, :2].abs().max() <= 1 and step._y_fake.max() < 4
    step.end_step()
    assert {"info_loss", "code_acc", "code_error"} <= set(d) and "info_loss_g" in g
    assert all(torch.isfinite(v) for v in {**d, **g}.values())
    for k, m in step.modules.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), k


def test_infogan_without_continuous_or_categorical_code():
    cat_only, _ = _step(_cfg(family="infogan", info_continuous=0))
    assert cat_only.spec.cont_codes == 0 and "code_error" not in cat_only.D_STATS
    cont_only, data = _step(_cfg(family="infogan", info_categories=0, info_continuous=3))
    assert cont_only.spec.num_classes == 0 and "code_acc" not in cont_only.D_STATS
    stats = cont_only.d_step(_batch(cont_only, data))
    assert torch.isfinite(stats["info_loss"]) and "code_error" in stats


def test_infogan_q_recovers_its_categorical_code_above_chance():
    """A few hundred real steps on a tiny problem: Q names the code G was given far above 1 / K."""
    k = 4
    step, data = _step(_cfg(family="infogan", arch="mlp", z_dim=4, info_categories=k, info_continuous=1,
                            g_hidden=(32,), d_hidden=(32,), lr_g=1e-3, lr_d=1e-3))
    x = data.x.float().div(127.5).sub(1)
    g = torch.Generator().manual_seed(0)
    for i in range(150):
        idx = torch.randint(0, x.shape[0], (16,), generator=g)
        batch = Batch(x[idx], None, 1, i % 4, False)
        step.d_step(batch)
        step.g_step(batch)
        step.end_step()
    G, D, Q = step.generator, step.discriminator, step.modules["Q"]
    for m in (G, D, Q):
        m.eval()
    with torch.no_grad():
        z = sampling.latent_noise(G.z_dim, 400, torch.Generator().manual_seed(1), G.cont_codes)
        c = torch.arange(400) % k
        cat, _ = Q(D.body(G(z, c)))
    accuracy = (cat.argmax(1) == c).float().mean().item()
    assert accuracy > 2.5 / k, accuracy


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("objective", ["minimax", "lsgan", "hinge", "wgan-gp"])
def test_every_objective_the_family_declares_steps(family, objective):
    assert objective in registry.FAMILIES[family].objectives
    step, data = _step(_cfg(family=family, objective=objective))
    batch = _batch(step, data)
    stats = {**step.d_step(batch), **step.g_step(batch)}
    assert all(torch.isfinite(v) for v in stats.values())
    values = step.summarize({k: float(stats[k]) for k in step.D_STATS + step.G_STATS}, 1, 1)
    assert (values["d_real"] is None) == (objective in ("hinge", "wgan-gp"))


@pytest.mark.parametrize("family", FAMILIES)
def test_mode_seeking_pairs_share_the_condition(family):
    step, data = _step(_cfg(family=family, mode_seeking=1.0, info_continuous=2))
    batch = _batch(step, data)
    step.d_step(batch)
    y, z, L = step._y_fake, step._z, step.spec.cont_codes
    assert torch.equal(y[:4], y[4:]) and torch.equal(z[:4, :L], z[4:, :L])
    assert not torch.equal(z[:4, L:], z[4:, L:])
    assert step.g_step(batch)["mode_seeking"] > 0 and "mode_seeking" in step.G_STATS


def test_config_checks_the_families_settings():
    with pytest.raises(ConfigError) as e:
        _cfg(family="infogan", info_categories=0, info_continuous=0)
    assert "info_categories" in e.value.errors
    with pytest.raises(ConfigError) as e:
        _cfg(family="infogan", info_categories=1)
    assert "info_categories" in e.value.errors
    with pytest.raises(ConfigError) as e:
        _cfg(family="acgan", replay=0.5, conditional=True, info_weight=-1)
    assert {"replay", "conditional", "info_weight"} <= set(e.value.errors)
    with pytest.raises(ConfigError) as e:
        _cfg(family="acgan", dataset="ring", arch="toy")
    assert "family" in e.value.errors
    for fam in FAMILIES:
        f = registry.FAMILIES[fam]
        assert f.explanation and f.charts and all(name in TrainConfig().to_dict() for name, _ in f.settings)


# ----------------------------------------------------------------------------- the loop
@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_trains_through_the_loop_and_records_its_metrics(tmp_path, family):
    run = _train(tmp_path, family, family=family, epochs=1, log_every=1)
    records, _ = run.read_metrics()
    epoch = [r for r in records if r["type"] == "epoch"][-1]
    steps = [r for r in records if r["type"] == "step"]
    for chart in registry.FAMILIES[family].charts:       # every charted series is in the records
        for key, _ in chart.series:
            assert isinstance(epoch[key], float) and math.isfinite(epoch[key]), key
            if chart.percent:
                assert 0 <= epoch[key] <= 1
            assert all(key in r for r in steps)
    assert math.isfinite(epoch["loss_d"]) and math.isfinite(epoch["loss_g"])
    doc = run.read_config_doc()
    img = np.asarray(Image.open(run.sample_path(1)))
    pad = sampling.GRID_PAD
    assert img.shape[0] == 10 * (28 + pad) + pad        # one row per class / code value
    if family == "infogan":
        assert doc["model"]["label_role"] == "code" and doc["model"]["z_dim"] == 8 + 2
        assert run.snapshot_epochs() == [0, 1]
    else:
        assert doc["model"]["d_outputs"] == 11


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_continues_each_family_exactly(tmp_path, family):
    """Two epochs straight equal one epoch + resume + one epoch: metrics and every weight (Q too)."""
    from playground import checkpoint

    over = dict(family=family, epochs=2, max_images=16)
    straight = _train(tmp_path, "straight", **over)
    split = _train(tmp_path, "split", **{**over, "epochs": 1})
    assert train_run(split, resume=True, epochs=2, echo=False) == 0
    keys = [k for c in registry.FAMILIES[family].charts for k, _ in c.series] + ["loss_d", "loss_g"]

    def epochs(run):
        return [{k: r[k] for k in keys} for r in run.read_metrics()[0] if r["type"] == "epoch"]

    a, b = epochs(straight), epochs(split)
    assert len(a) == len(b) == 2
    for ra, rb in zip(a, b):
        assert ra == pytest.approx(rb, rel=1e-5, abs=1e-7)
    ta, _ = checkpoint.load(straight.train_checkpoint_stems()[-1], device="cpu", root=straight.path)
    tb, _ = checkpoint.load(split.train_checkpoint_stems()[-1], device="cpu", root=split.path)
    assert set(ta) == set(tb) and any(k.startswith("Q.") for k in ta) == (family == "infogan")
    for k in ta:
        if not k.startswith("rng"):
            assert torch.allclose(ta[k].float(), tb[k].float(), rtol=1e-5, atol=1e-6), k


# ----------------------------------------------------------------------------- sampling
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("infoac")
    root, empty = base / "runs", base / "empty"
    empty.mkdir()
    made = {}
    for family in FAMILIES:
        run = Run(root / family)
        run.create(_cfg(family=family, epochs=1, name=f"tiny {family}"))
        assert train_run(run, echo=False) == 0
        made[family] = run
    return {"root": root, "empty": empty, **made}


def test_cli_sample_fixes_the_codes_and_refuses_bad_values(runs, tmp_path, capsys):
    info = str(runs["infogan"].path)
    out = tmp_path / "a.npy"
    assert cli.main(["sample", "--run-dir", info, "--n", "6", "--code", "3", "--code-values", "0.5,-1",
                     "--out", str(out)]) == 0
    arr = np.load(out)
    G, _, _ = sampling.load_snapshot(runs["infogan"])
    z = sampling.with_codes(sampling.fixed_noise(G.z_dim, 6, 0, G.cont_codes), [0.5, -1], G.cont_codes)
    expected = sampling.to_uint8(G(z, torch.full((6,), 3)))[..., 0]
    assert arr.shape == (6, 28, 28) and np.array_equal(arr, expected)
    png = tmp_path / "b.png"
    assert cli.main(["sample", "--run-dir", info, "--n", "4", "--code", "0", "--out", str(png)]) == 0
    assert Image.open(png).size[0] > 28
    capsys.readouterr()
    for args, needle in ((["--code", "10"], "between 0 and 9"),
                         (["--code-values", "1.5,0"], "between -1 and 1"),
                         (["--code-values", "0.5"], "2 continuous code"),
                         (["--code-values", "a,b"], "numbers between -1 and 1"),
                         (["--code-values", "nan,0"], "between -1 and 1"),
                         (["--class", "2"], "--code K")):
        assert cli.main(["sample", "--run-dir", info, "--out", str(tmp_path / "x.png"), *args]) == 2, args
        assert needle in capsys.readouterr().err, args
    ac = str(runs["acgan"].path)
    assert cli.main(["sample", "--run-dir", ac, "--code", "1", "--out", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err
    assert "InfoGAN" in err and "--class" in err
    assert cli.main(["sample", "--run-dir", ac, "--class", "1", "--n", "3", "--out", str(tmp_path / "y.npy")]) == 0
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_code_sweep_draws_one_row_per_code_value(runs):
    gen = latent.load_generator(runs["infogan"], 1)
    assert gen.has_codes and gen.cont_codes == 2 and gen.num_classes == 10
    z = latent.seed_latent(gen.z_dim, 0, gen.cont_codes)
    images, cols = latent.code_sweep(gen, z, 1, steps=5)
    assert cols == 5 and images.shape == (50, 28, 28, 1)
    assert not np.array_equal(images[0], images[4])            # the code changed the image
    one, cols = latent.code_sweep(gen, z, None)
    assert cols == 1 and one.shape[0] == 10
    with pytest.raises(ValueError, match="between 1 and 2"):
        latent.code_sweep(gen, z, 2)
    with pytest.raises(ValueError, match="only InfoGAN"):
        latent.code_sweep(latent.load_generator(runs["acgan"], 1), latent.seed_latent(8, 0), 0)


def test_code_purity_counts_the_majority_class_per_code_value():
    class CodeG(torch.nn.Module):           # draws the code as the image's brightness
        num_classes, label_role, z_dim, cont_codes = 3, "code", 2, 1

        def forward(self, z, y):
            return y.float()[:, None, None, None].expand(-1, 1, 28, 28) + 0 * z[:, :1, None, None]

    class Scorer:                           # calls code 0 class 5, codes 1 and 2 class 7
        num_classes = 10

        def outputs(self, images):
            probs = torch.zeros(images.shape[0], 10)
            probs[:, 5] = (images.mean((1, 2, 3)) == 0).float()
            probs[:, 7] = 1 - probs[:, 5]
            return None, probs

    out = quality.code_purity(CodeG(), Scorer(), n_per_value=20)
    assert out["purity"] == 1.0 and out["majority"] == [5, 7, 7] and out["classes_covered"] == 2


# ----------------------------------------------------------------------------- pages
def _page(monkeypatch, runs, page, run_key):
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(runs["root"]))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(runs["empty"]))
    at = AppTest.from_file(APP, default_timeout=120)
    params = {"a": run_key, "b": run_key} if page == "compare" else {"run": run_key}
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(f"playground/ui/pages/{page}.py")
    at.run()
    assert not at.exception, (page, [e.value for e in at.exception])
    return at


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "subheader") for e in getattr(at, kind)]
    parts += [img.proto.imgs[0].caption for img in at.get("image") if img.proto.imgs]
    return "\n".join(str(p).replace("\\", "") for p in parts)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("page", ["watch", "explore", "runs", "compare", "train"])
def test_every_page_renders_a_run_of_each_family(runs, monkeypatch, family, page):
    at = _page(monkeypatch, runs, page, f"runs/{family}")
    text = _texts(at)
    if page == "watch":
        assert ("one row per value of the categorical code" in text) == (family == "infogan")
        if family == "acgan":
            assert "each row asks the generator for one class" in text


def test_the_explorer_shows_infogan_codes_as_their_own_controls(runs, monkeypatch):
    at = _page(monkeypatch, runs, "explore", "runs/infogan")
    assert "Categorical code" in [s.label for s in at.selectbox]
    assert "Class" not in [s.label for s in at.selectbox]
    sliders = [s.label for s in at.select_slider]
    assert "continuous code 1" in sliders and "continuous code 2" in sliders
    assert "z[2]" in sliders and "z[0]" not in sliders          # noise sliders start after the codes
    text = _texts(at)
    assert "never given labels" in text and "Code sweep" in text
    assert "One row per value of the categorical code" in text
    code = at.select_slider(key="lx_cc0")
    assert code.value == pytest.approx(float(latent.seed_latent(10, 0, 2)[0]), abs=0.03)   # the seed's code
    before = _image_of(at, "G(z)")
    code.set_value(-1.0 if code.value != -1.0 else 1.0).run()
    assert not at.exception and _image_of(at, "G(z)") != before
    acgan = _page(monkeypatch, runs, "explore", "runs/acgan")
    assert "Class" in [s.label for s in acgan.selectbox] and "never given labels" not in _texts(acgan)


def _image_of(at, caption_start):
    return [img.proto.imgs[0].url for img in at.get("image")
            if img.proto.imgs and img.proto.imgs[0].caption.startswith(caption_start)][0]
