"""FCC-GAN and the course reports' variations: minibatch discrimination, average-pooling downsampling
in D, G's activation and dropout, G steps per D step and 128x128 images. Tiny models on the CPU,
real optimizer steps; the default models stay exactly as they were."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from playground import speed
from playground.data import load_dataset
from playground.models import MinibatchDiscrimination, ModelSpec, build_models
from playground.models.layers import Dropout
from playground.models.spec import ADDED_FIELDS
from playground.runs import Run
from playground.training import Hooks, Trainer, model_spec
from playground.worker import train_run
from test_speed_modes import BATCH, EPOCHS, STEPS_PER_EPOCH, _cfg, _close, _data, trainer_losses

TINY = dict(z_dim=8, g_hidden=(16, 16), d_hidden=(16, 16), g_filters=4, d_filters=4, embed_dim=5)


# ------------------------------------------------------------------ minibatch discrimination
def test_minibatch_discrimination_in_closed_form():
    """o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_L1) on three samples, two kernels of two values."""
    layer = MinibatchDiscrimination(2, kernels=2, kernel_dim=2)
    with torch.no_grad():   # T [A=2, B*C=4]: kernel 0 is columns 0-1, kernel 1 columns 2-3
        layer.T.copy_(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 2.0, 0.0]]))
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # M: x0 -> (0, 0 | 0, 0), x1 -> (1, 0 | 0, 1), x2 -> (0, 2 | 4, 0)
    # kernel 0 L1 distances: d01 = 1, d02 = 2, d12 = 3; kernel 1: d01 = 1, d02 = 4, d12 = 5
    e = math.exp
    expected_o = torch.tensor([
        [1 + e(-1) + e(-2), 1 + e(-1) + e(-4)],
        [e(-1) + 1 + e(-3), e(-1) + 1 + e(-5)],
        [e(-2) + e(-3) + 1, e(-4) + e(-5) + 1],
    ])
    out = layer(x)
    assert out.shape == (3, 4)
    torch.testing.assert_close(out[:, :2], x)                     # the features pass through
    torch.testing.assert_close(out[:, 2:], expected_o, rtol=1e-6, atol=1e-6)


def test_minibatch_discrimination_matches_the_definition_and_learns():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
    x = torch.randn(5, 6)
    m = (x @ layer.T).view(5, 4, 3)
    brute = torch.stack([torch.stack([sum(torch.exp(-(m[i, b] - m[j, b]).abs().sum()) for j in range(5))
                                      for b in range(4)]) for i in range(5)])
    out = layer(x)
    torch.testing.assert_close(out[:, 6:], brute, rtol=1e-5, atol=1e-6)
    out.pow(2).sum().backward()
    assert torch.isfinite(layer.T.grad).all() and layer.T.grad.abs().sum() > 0
    # a sample's features depend on the rest of the batch: a batch of copies scores the batch size
    copies = layer(x[:1].repeat(4, 1))[:, 6:]
    torch.testing.assert_close(copies, torch.full((4, 4), 4.0))


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "fccgan"])
def test_minibatch_discrimination_sits_before_ds_last_layer(arch):
    spec = ModelSpec(arch, channels=1, image_size=28, minibatch_disc=6, minibatch_disc_dim=2, **TINY)
    _, D = build_models(spec)
    layers = [m for m in D.modules() if isinstance(m, MinibatchDiscrimination)]
    assert len(layers) == 1 and layers[0].T.shape[1] == 6 * 2
    assert isinstance(D.head, nn.Linear) and D.head.in_features == layers[0].T.shape[0] + 6
    seen = {}
    D.head.register_forward_hook(lambda m, i, o: seen.setdefault("x", i[0]))
    D(torch.rand(5, 1, 28, 28) * 2 - 1)
    assert seen["x"].shape == (5, D.head.in_features)


def test_minibatch_features_never_go_through_ds_joint_batch():
    """Real and fake in one D call would compare real images with fakes: not the same D."""
    cfg = _cfg(arch="mlp", joint_d_batch="auto", minibatch_disc=4)
    spec = model_spec(cfg, _data().info)
    for device in ("cpu", "cuda"):
        plan = speed.resolve(cfg, spec, torch.device(device))
        assert not plan.joint_d_batch
    plain = speed.resolve(cfg.replace(minibatch_disc=0), model_spec(cfg.replace(minibatch_disc=0), _data().info),
                          torch.device("cuda"))
    assert plain.joint_d_batch   # the MLP D without it is per sample


# ------------------------------------------------------------------ layers of the options
def test_avgpool_downsampling_replaces_ds_strided_convs():
    for arch in ("dcgan", "fccgan"):
        spec = ModelSpec(arch, channels=3, image_size=32, d_downsample="avgpool", **TINY)
        _, D = build_models(spec)
        convs = [m for m in D.features.modules() if isinstance(m, nn.Conv2d)]
        pools = [m for m in D.features.modules() if isinstance(m, nn.AvgPool2d)]
        assert len(convs) == len(pools) == 3 and all(c.stride == (1, 1) for c in convs)
        maps = []
        for p in pools:
            p.register_forward_hook(lambda m, i, o: maps.append(tuple(o.shape[1:])))
        D(torch.rand(2, 3, 32, 32) * 2 - 1)
        assert maps == [(4, 16, 16), (8, 8, 8), (16, 4, 4)]   # the same maps as the strided D
        _, strided = build_models(ModelSpec(arch, channels=3, image_size=32, **TINY))
        assert all(c.stride == (2, 2) for c in strided.features.modules() if isinstance(c, nn.Conv2d))
        assert not any(isinstance(m, nn.AvgPool2d) for m in strided.modules())


@pytest.mark.parametrize("arch,own", [("mlp", nn.LeakyReLU), ("dcgan", nn.ReLU), ("fccgan", nn.ReLU)])
def test_g_activation_and_dropout(arch, own):
    def acts(G):
        return {type(m) for m in G.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))}

    base = dict(channels=1, image_size=28, **TINY)
    G_auto, _ = build_models(ModelSpec(arch, **base))
    assert acts(G_auto) == {own}
    assert not any(isinstance(m, nn.Dropout) for m in G_auto.modules())
    G_relu, _ = build_models(ModelSpec(arch, g_activation="relu", **base))
    G_leaky, _ = build_models(ModelSpec(arch, g_activation="leakyrelu", **base))
    assert acts(G_relu) == {nn.ReLU} and acts(G_leaky) == {nn.LeakyReLU}
    assert all(m.negative_slope == 0.2 for m in G_leaky.modules() if isinstance(m, nn.LeakyReLU))
    # no parameter changes with the activation: same names, same shapes
    assert {k: v.shape for k, v in G_relu.state_dict().items()} == {k: v.shape for k, v in G_leaky.state_dict().items()}
    G_drop, _ = build_models(ModelSpec(arch, g_dropout=0.5, **base))
    drops = [m for m in G_drop.modules() if isinstance(m, Dropout)]
    n_hidden = sum(isinstance(m, (nn.ReLU, nn.LeakyReLU)) for m in G_drop.modules())
    assert len(drops) == n_hidden and all(d.p == 0.5 for d in drops)   # one after each hidden activation
    torch.manual_seed(0)
    z = torch.randn(6, 8)
    G_drop.eval()
    a = G_drop(z)
    torch.testing.assert_close(a, G_drop(z))         # sampling switches nothing off
    G_drop.train()
    assert not torch.allclose(G_drop(z), G_drop(z))  # training draws with units switched off at random


# ------------------------------------------------------------------ FCC-GAN
def test_fccgan_layout():
    spec = ModelSpec("fccgan", z_dim=10, channels=3, image_size=32, num_classes=4, embed_dim=6,
                     g_hidden=(64, 512), d_hidden=(256, 128), g_filters=8, d_filters=8)
    G, D = build_models(spec)
    g_dense = [m for m in G.dense if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_dense] == [(16, 64), (64, 512), (512, 32 * 4 * 4)]
    assert all(m.bias is None for m in g_dense)                 # BatchNorm follows each one
    assert G.first_map == (32, 4, 4)                            # f * 2^(n_up-1) = 8 * 4 channels at 4x4
    d_dense = [m for m in D.dense if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in d_dense] == [(32 * 4 * 4, 256), (256, 128)]
    assert (D.head.in_features, D.head.out_features) == (128, 1)
    assert D.features[0].in_channels == 3 + 1                  # the label as one extra input channel
    z, y = torch.randn(5, 10), torch.tensor([0, 1, 2, 3, 0])
    x = G(z, y)
    assert x.shape == (5, 3, 32, 32) and D(x, y).shape == (5,)
    # the label changes both networks' outputs
    G.eval(), D.eval()
    assert not torch.allclose(G(z, y), G(z, (y + 1) % 4))
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 4))


def test_fccgan_minibatch_std_after_the_dense_layers():
    spec = ModelSpec("fccgan", channels=1, image_size=28, minibatch_std=True, **TINY)
    _, D = build_models(spec)
    assert D.head.in_features == 16 + 1


# ------------------------------------------------------------------ 128 px
def test_dcgan_at_128_pixels():
    spec = ModelSpec("dcgan", channels=3, image_size=128, g_filters=4, d_filters=4, z_dim=8)
    G, D = build_models(spec)
    ups = [m for m in G.net if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 6                           # the projection to 4x4, then 5 doublings to 128
    assert ups[0].out_channels == 4 * 16           # G starts at [N, 16f, 4, 4]
    downs = [m for m in D.features if isinstance(m, nn.Conv2d)]
    assert len(downs) == 5 and downs[-1].out_channels == 4 * 16
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 3, 128, 128) and D(x).shape == (2,)


def test_folder_images_load_at_128(tmp_path):
    folder = tmp_path / "flowers"
    rng = np.random.default_rng(0)
    for cls in ("daisy", "rose"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):   # not square and not 128: resized and centre-cropped
            Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8)).save(folder / cls / f"{i}.png")
    data = load_dataset("folder", data_dir=str(folder), image_size=128, channels=3, cache_dir=str(tmp_path / "c"))
    assert tuple(data.x.shape) == (6, 3, 128, 128) and data.x.dtype == torch.uint8
    assert data.info.image_size == 128 and data.info.num_classes == 2
    spec = model_spec(_cfg(arch="dcgan", conditional=True), data.info)
    G, D = build_models(spec)
    y = data.y[:4]
    assert G(torch.randn(4, spec.z_dim), y).shape == (4, 3, 128, 128)
    assert D(data.x[:4].float() / 127.5 - 1, y).shape == (4,)


# ------------------------------------------------------------------ defaults unchanged
def test_defaults_describe_and_build_the_same_models():
    """Runs made before the options existed: same model description, parameters and state-dict keys."""
    for spec in (ModelSpec("dcgan", channels=3, image_size=64), ModelSpec("mlp"), ModelSpec("dcgan")):
        d = spec.to_dict()
        assert set(ADDED_FIELDS).isdisjoint(d)           # written only when set
        assert ModelSpec.from_dict(d) == spec
    assert ModelSpec.from_dict(ModelSpec("mlp", g_dropout=0.2).to_dict()).g_dropout == 0.2
    G, D = build_models(ModelSpec("dcgan", channels=1, image_size=28, g_filters=4, d_filters=4))
    assert list(G.state_dict()) == [
        "net.0.weight", "net.1.weight", "net.1.bias", "net.1.running_mean", "net.1.running_var",
        "net.1.num_batches_tracked", "net.3.weight", "net.4.weight", "net.4.bias", "net.4.running_mean",
        "net.4.running_var", "net.4.num_batches_tracked", "net.6.weight"]
    assert list(D.state_dict()) == [
        "features.0.weight", "features.2.weight", "features.3.weight", "features.3.bias",
        "features.3.running_mean", "features.3.running_var", "features.3.num_batches_tracked", "head.weight"]
    G, D = build_models(ModelSpec("mlp", g_hidden=(16,), d_hidden=(16,), dropout=0.3))
    assert list(G.state_dict()) == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    assert list(D.state_dict()) == ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]


def test_auto_activation_is_each_architectures_own():
    for arch, own in (("mlp", "leakyrelu"), ("dcgan", "relu")):
        base = dict(channels=1, image_size=28, **TINY)
        torch.manual_seed(0)
        G_auto, _ = build_models(ModelSpec(arch, **base))
        torch.manual_seed(0)
        G_own, _ = build_models(ModelSpec(arch, g_activation=own, **base))
        z = torch.randn(4, 8)
        G_auto.eval(), G_own.eval()
        torch.testing.assert_close(G_auto(z), G_own(z), rtol=0, atol=0)


# ------------------------------------------------------------------ G steps per D step
def reference_losses_g_steps(cfg, g_steps: int, d_steps: int = 1) -> list[tuple[float, float | None]]:
    """The textbook step (test_speed_modes.reference_losses) with ``g_steps`` G updates every
    ``d_steps``-th D update, each after the first on new noise; G's loss is their mean."""
    data = _data()
    torch.manual_seed(cfg.seed)
    G, D = build_models(model_spec(cfg, data.info))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2), foreach=False)
    out, step = [], 0
    for _ in range(EPOCHS):
        perm = torch.randperm(len(data))
        for i in range(STEPS_PER_EPOCH):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            real = data.x[idx].float() / 127.5 - 1.0
            fake = G(torch.randn(BATCH, cfg.z_dim))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            step += 1
            losses_g = []
            for k in range(g_steps if step % d_steps == 0 else 0):
                if k:
                    fake = G(torch.randn(BATCH, cfg.z_dim))
                loss_g = F.softplus(-D(fake)).mean()
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
                losses_g.append(loss_g.item())
            out.append((loss_d.item(), sum(losses_g) / len(losses_g) if losses_g else None))
    return out


@pytest.mark.parametrize("arch,d_steps,g_steps", [("mlp", 1, 2), ("dcgan", 1, 2), ("fccgan", 1, 3)])
def test_g_steps_is_the_textbook_step_with_more_g_updates(tmp_path, arch, d_steps, g_steps):
    cfg = _cfg(arch=arch, g_steps=g_steps, d_steps=d_steps, g_hidden=(32, 32), d_hidden=(32, 32))
    ref = reference_losses_g_steps(cfg, g_steps, d_steps)
    _close(trainer_losses(tmp_path, cfg), ref, rel=1e-5)


def test_g_steps_counts_g_updates_and_averages_over_them(tmp_path):
    """d_steps 2, g_steps 3: 8 D updates, 4 G turns of 3 updates; each line's loss_g is the mean of
    the G updates it saw, and the epoch's the mean of all of them."""
    cfg = _cfg(arch="mlp", d_steps=2, g_steps=3)
    losses = []
    run = Run(tmp_path / "r")
    run.create(cfg)
    t = Trainer(run, cfg, _data(), torch.device("cpu"), Hooks())
    g_step = t.step_impl.g_step
    draws = []

    def counted(batch):
        draws.append(t.step_impl._z)
        stats = g_step(batch)
        losses.append(stats["loss_g"].item())
        return stats

    t.step_impl.g_step = counted
    t.fit()
    opt_g, opt_d = t.step_impl.optimizers["opt_g"], t.step_impl.optimizers["opt_d"]
    assert {int(s["step"]) for s in opt_d.state.values()} == {EPOCHS * STEPS_PER_EPOCH}     # 8
    assert {int(s["step"]) for s in opt_g.state.values()} == {EPOCHS * STEPS_PER_EPOCH // 2 * 3}   # 12
    assert len(losses) == 12
    for a, b in zip(draws[::3], draws[1::3]):   # each further update of a turn has its own noise
        assert not torch.equal(a, b)
    records, _ = run.read_metrics()
    steps = [r for r in records if r["type"] == "step"]
    assert [r["loss_g"] is None for r in steps] == [True, False] * (len(steps) // 2)
    with_g = [r["loss_g"] for r in steps if r["loss_g"] is not None]
    assert with_g == pytest.approx([sum(losses[k:k + 3]) / 3 for k in range(0, 12, 3)], rel=1e-5)
    epochs = [r for r in records if r["type"] == "epoch"]
    assert epochs[0]["loss_g"] == pytest.approx(sum(losses[:6]) / 6, rel=1e-5)
    assert epochs[1]["loss_g"] == pytest.approx(sum(losses[6:]) / 6, rel=1e-5)


def test_g_steps_is_a_live_setting(tmp_path, tiny_cfg):
    cfg = tiny_cfg(epochs=1)
    run = Run(tmp_path / "live")
    run.create(cfg)
    run.write_control(g_steps=2)    # picked up at the first control poll, before the first step
    data = load_dataset(cfg.dataset, max_images=cfg.max_images, seed=0, source="bundled")
    t = Trainer(run, cfg, data, torch.device("cpu"), Hooks())
    t.fit()
    records, _ = run.read_metrics()
    changes = [r for r in records if r["type"] == "change"]
    assert [(c["field"], c["old"], c["new"]) for c in changes] == [("g_steps", 1, 2)]
    assert {int(s["step"]) for s in t.step_impl.optimizers["opt_g"].state.values()} == {2 * t.steps_per_epoch}
    assert t.live.as_dict()["g_steps"] == 2
    # resumed, the run keeps the live value its checkpoint saved
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    assert run.read_status()["live"]["g_steps"] == 2


# ------------------------------------------------------------------ real runs
@pytest.mark.parametrize("over", [
    dict(arch="fccgan", g_hidden=(16, 32), d_hidden=(32, 16)),
    dict(arch="fccgan", conditional=True, minibatch_std=True, dropout=0.3, upsample="nearest",
         d_downsample="avgpool", g_steps=2),
    dict(arch="fccgan", objective="wgan-gp", minibatch_disc=4, d_steps=2),
    dict(arch="dcgan", d_downsample="avgpool", minibatch_disc=4, g_activation="leakyrelu", g_dropout=0.2),
    dict(arch="mlp", conditional=True, minibatch_disc=4, minibatch_disc_dim=3, g_activation="relu", g_dropout=0.3),
    dict(arch="dcgan", image_size=128, max_images=16, conditional=True),
    dict(arch="fccgan", image_size=128, channels=3, max_images=16, d_downsample="avgpool"),
], ids=["fccgan", "fccgan-cond-tricks", "fccgan-wgan-gp-mbdisc", "dcgan-variations", "mlp-variations",
        "dcgan-128", "fccgan-128-colour"])
def test_each_option_trains_an_epoch(tmp_path, tiny_cfg, over):
    cfg = tiny_cfg(**over)
    run = Run(tmp_path / "run")
    run.create(cfg)
    assert train_run(run, echo=False) == 0
    assert run.read_status()["state"] == "finished"
    doc = run.read_config_doc()
    size = cfg.image_size or 28
    assert doc["model"]["arch"] == cfg.arch and doc["data"]["image_size"] == size
    records, _ = run.read_metrics()
    epoch = next(r for r in records if r["type"] == "epoch")
    assert all(math.isfinite(epoch[k]) for k in ("loss_d", "loss_g"))
    assert run.sample_epochs() == [0, 1]
    assert Image.open(run.sample_path(1)).size[0] >= 4 * size
