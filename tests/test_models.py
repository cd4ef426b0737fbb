"""Tiny CPU tests of the generators and discriminators: shapes, ranges, one real optimizer step per
objective, the PyTorch DCGAN example as a reference, and ModelSpec validation / JSON round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from playground.losses import OBJECTIVES, d_loss, g_loss, gradient_penalty
from playground.registry import OBJECTIVES as OBJECTIVE_TABLE
from playground.models import ARCHS, MinibatchStd, ModelSpec, build_models, count_parameters

BATCH = 4
TINY = dict(z_dim=8, g_hidden=(16, 16), d_hidden=(16, 16), g_filters=4, d_filters=4, embed_dim=5)


def _case_id(spec: ModelSpec) -> str:
    parts = [spec.arch]
    if not spec.is_points:
        parts.append(f"{spec.channels}x{spec.image_size}")
    if spec.arch == "dcgan":
        parts += [spec.upsample, f"k{spec.kernel_size}"]
    parts.append(f"cond{spec.num_classes}" if spec.num_classes else "uncond")
    if spec.minibatch_std:
        parts.append("mbstd")
    if spec.dropout:
        parts.append("drop")
    if spec.arch == "fccgan":
        parts += [spec.upsample, spec.d_downsample]
    elif spec.d_downsample != "stride":
        parts.append(spec.d_downsample)
    if spec.minibatch_disc:
        parts.append(f"mbdisc{spec.minibatch_disc}")
    if spec.g_activation != "auto":
        parts.append(spec.g_activation)
    if spec.g_dropout:
        parts.append("gdrop")
    if not spec.batchnorm:
        parts.append("nobn")
    return "-".join(parts)


def _cases() -> list[ModelSpec]:
    cases = []
    for size in (28, 32, 64):
        for cond in (False, True):
            for upsample in ("convtranspose", "nearest"):
                for kernel in (4, 5):
                    cases.append(
                        ModelSpec(
                            "dcgan",
                            channels=1 if size == 28 else 3,
                            image_size=size,
                            num_classes=3 if cond else 0,
                            upsample=upsample,
                            kernel_size=kernel,
                            # spread the optional D features over the matrix
                            minibatch_std=kernel == 5,
                            dropout=0.3 if (upsample == "nearest" and cond) else 0.0,
                            **TINY,
                        )
                    )
    for cond in (False, True):
        cases.append(
            ModelSpec("mlp", channels=1, image_size=28, num_classes=10 if cond else 0,
                      minibatch_std=cond, dropout=0.3, **TINY)
        )
        cases.append(
            ModelSpec("toy", channels=0, image_size=0, num_classes=4 if cond else 0,
                      minibatch_std=cond, **TINY)
        )
    cases.append(ModelSpec("mlp", channels=3, image_size=32, **TINY))
    # FCC-GAN: DCGAN's convs with dense layers around them, at every image size
    for size in (28, 32, 64, 128):
        for cond in (False, True):
            cases.append(ModelSpec("fccgan", channels=1 if size == 28 else 3, image_size=size,
                                   num_classes=3 if cond else 0, upsample="nearest" if cond else "convtranspose",
                                   d_downsample="avgpool" if size in (32, 128) else "stride",
                                   minibatch_std=cond, dropout=0.3 if cond else 0.0, **TINY))
    cases.append(ModelSpec("dcgan", channels=3, image_size=128, **TINY))
    # the course reports' variations
    cases.append(ModelSpec("dcgan", channels=1, image_size=28, d_downsample="avgpool", kernel_size=5,
                           num_classes=3, **TINY))
    cases.append(ModelSpec("dcgan", channels=3, image_size=32, d_downsample="avgpool", minibatch_std=True,
                           minibatch_disc=4, minibatch_disc_dim=3, g_activation="leakyrelu", g_dropout=0.2, **TINY))
    cases.append(ModelSpec("mlp", channels=1, image_size=28, num_classes=10, minibatch_disc=4,
                           g_activation="relu", g_dropout=0.2, **TINY))
    cases.append(ModelSpec("fccgan", channels=1, image_size=28, minibatch_std=True, minibatch_disc=4,
                           batchnorm=False, d_batchnorm=False, g_dropout=0.2, g_activation="leakyrelu", **TINY))
    return cases


CASES = _cases()


def _labels(spec: ModelSpec, n: int = BATCH) -> torch.Tensor | None:
    return torch.randint(0, spec.num_classes, (n,)) if spec.num_classes else None


def _real(spec: ModelSpec, n: int = BATCH) -> torch.Tensor:
    if spec.is_points:
        return torch.randn(n, 2) * 2.0
    return torch.rand(n, *spec.data_shape) * 2.0 - 1.0


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _unchanged(module: nn.Module, before: dict[str, torch.Tensor]) -> list[str]:
    return [name for name, p in module.named_parameters() if torch.equal(p.detach(), before[name])]


# --------------------------------------------------------------------------------- shapes and ranges
@pytest.mark.parametrize("spec", CASES, ids=_case_id)
def test_shapes_and_ranges(spec: ModelSpec) -> None:
    torch.manual_seed(0)
    G, D = build_models(spec)
    assert G.spec == spec and D.spec == spec
    assert G.z_dim == spec.z_dim and G.num_classes == spec.num_classes
    z, y = torch.randn(BATCH, spec.z_dim), _labels(spec)
    for mode in ("train", "eval"):
        G.train(mode == "train")
        D.train(mode == "train")
        x = G(z, y)
        expected = (BATCH, 2) if spec.is_points else (BATCH, spec.channels, spec.image_size, spec.image_size)
        assert tuple(x.shape) == expected
        assert x.dtype == torch.float32
        assert torch.isfinite(x).all()
        if not spec.is_points:
            assert x.min() >= -1.0 and x.max() <= 1.0
        logits = D(x, y)
        assert tuple(logits.shape) == (BATCH,)
        assert torch.isfinite(logits).all()


# ------------------------------------------------------------------- one real optimizer step
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("spec", CASES, ids=_case_id)
def test_one_optimizer_step(spec: ModelSpec, objective: str) -> None:
    if objective == "wgan-gp":
        spec = dataclasses.replace(spec, d_batchnorm=False)  # as the trainer does for WGAN-GP
    torch.manual_seed(0)
    G, D = build_models(spec)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real, y, z = _real(spec), _labels(spec), torch.randn(BATCH, spec.z_dim)

    # D step
    fake = G(z, y).detach()
    target = 0.9 if OBJECTIVE_TABLE[objective].smoothable else 1.0
    loss_d = d_loss(objective, D(real, y), D(fake, y), real_target=target)
    if objective == "wgan-gp":
        loss_d = loss_d + 10.0 * gradient_penalty(D, real, fake, y)
    assert loss_d.dim() == 0 and torch.isfinite(loss_d)
    before_d, before_g = _snapshot(D), _snapshot(G)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    # For hinge (inside the margins) and wgan-gp, a constant added to every logit cancels between
    # the real and fake terms, so the bias of D's last layer gets an exactly zero gradient.
    may_stay = {"head.bias"} if objective in ("hinge", "wgan-gp") else set()
    assert set(_unchanged(D, before_d)) <= may_stay
    assert _unchanged(G, before_g) == list(before_g)  # G untouched by the D step

    # G step
    before_d, before_g = _snapshot(D), _snapshot(G)
    loss_g = g_loss(objective, D(G(z, y), y))
    assert loss_g.dim() == 0 and torch.isfinite(loss_g)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert _unchanged(G, before_g) == []
    assert _unchanged(D, before_d) == list(before_d)
    assert all(torch.isfinite(p).all() for p in [*G.parameters(), *D.parameters()])


# ------------------------------------------------------------ reference: pytorch/examples dcgan
class _ExampleG(nn.Module):
    """pytorch/examples dcgan/main.py Generator (nz=100, ngf=64, nc=3), verbatim apart from names."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
        )


class _ExampleD(nn.Module):
    """pytorch/examples dcgan/main.py Discriminator (nc=3, ndf=64)."""

    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )


def _example_weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _conv_output_shapes(module: nn.Module, run) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    run()
    for h in hooks:
        h.remove()
    return shapes


def test_dcgan64_matches_pytorch_example() -> None:
    spec = ModelSpec("dcgan", z_dim=100, channels=3, image_size=64)  # defaults: g/d_filters 64, k 4
    torch.manual_seed(123)
    G, D = build_models(spec)
    torch.manual_seed(123)
    ref_g = _ExampleG()
    ref_g.apply(_example_weights_init)
    ref_d = _ExampleD()
    ref_d.apply(_example_weights_init)

    assert count_parameters(G) == count_parameters(ref_g) == 3_576_704
    assert count_parameters(D) == count_parameters(ref_d) == 2_765_568
    assert [p.shape for p in G.parameters()] == [p.shape for p in ref_g.parameters()]
    assert [p.shape for p in D.parameters()] == [p.shape for p in ref_d.parameters()]

    z = torch.randn(2, 100)
    g_shapes = _conv_output_shapes(G, lambda: G(z))
    assert g_shapes == [(2, 512, 4, 4), (2, 256, 8, 8), (2, 128, 16, 16), (2, 64, 32, 32), (2, 3, 64, 64)]
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    d_shapes = _conv_output_shapes(D, lambda: D(x))
    assert d_shapes == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4), (2, 1, 1, 1)]

    # Same construction order and init => same weights and same outputs as the example.
    with torch.no_grad():
        torch.testing.assert_close(G(z), ref_g.main(z[:, :, None, None]))
        torch.testing.assert_close(D(x), ref_d.main[:-1](x).flatten())  # ours has no sigmoid


def test_dcgan_init_and_batchnorm() -> None:
    torch.manual_seed(0)
    G, D = build_models(ModelSpec("dcgan", channels=3, image_size=32, g_filters=32, d_filters=32))
    for m in [*G.modules(), *D.modules()]:
        if isinstance(m, nn.BatchNorm2d):
            assert m.eps == 1e-5 and m.momentum == 0.1  # never BatchNorm2d(n, 0.8)
            assert m.weight.mean().item() == pytest.approx(1.0, abs=0.02)
            assert torch.count_nonzero(m.bias) == 0
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() > 1000:
            assert m.weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())


def test_dcgan_bias_only_where_no_batchnorm() -> None:
    spec = ModelSpec("dcgan", channels=1, image_size=28, **TINY)
    for bn in (True, False):
        G, D = build_models(dataclasses.replace(spec, batchnorm=bn, d_batchnorm=bn))
        for net in (G.net, D.features):
            layers = list(net)
            for i, m in enumerate(layers):
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    followed_by_bn = i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d)
                    if followed_by_bn:
                        assert m.bias is None
        assert not any(isinstance(m, nn.BatchNorm2d) for m in [*G.modules(), *D.modules()]) or bn
        # hidden D convs carry a bias exactly when BN is off
        hidden_d_convs = [m for m in D.features if isinstance(m, nn.Conv2d)][1:]
        assert all((m.bias is not None) == (not bn) for m in hidden_d_convs)


@pytest.mark.parametrize("kernel", (4, 5))
def test_nearest_upsample_has_no_transposed_convs_after_the_first(kernel: int) -> None:
    spec = ModelSpec("dcgan", channels=1, image_size=32, upsample="nearest", kernel_size=kernel, **TINY)
    G, _ = build_models(spec)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == 1  # the 1x1 -> 4x4 projection
    assert sum(isinstance(m, nn.Upsample) for m in G.modules()) == 3
    assert any(isinstance(m, nn.ZeroPad2d) for m in G.modules()) == (kernel == 4)


def test_points_output_is_linear() -> None:
    spec = ModelSpec("toy", channels=0, image_size=0, **TINY)
    G, _ = build_models(spec)
    assert not any(isinstance(m, nn.Tanh) for m in G.modules())
    with torch.no_grad():
        G.net[-1].bias.fill_(5.0)
    assert (G(torch.randn(BATCH, spec.z_dim)) > 1.0).any()


def test_mlp_matches_goodfellow_layout() -> None:
    G, D = build_models(ModelSpec("mlp", channels=1, image_size=28, dropout=0.3))
    assert [m.out_features for m in G.modules() if isinstance(m, nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in D.modules() if isinstance(m, nn.Linear)] == [1024, 512, 256, 1]
    assert sum(isinstance(m, nn.Dropout) for m in D.modules()) == 3
    assert isinstance(G.net[-1], nn.Tanh)


# ---------------------------------------------------------------------------- conditional inputs
@pytest.mark.parametrize("arch", ARCHS)
def test_conditional_models_require_labels(arch: str) -> None:
    points = arch == "toy"
    spec = ModelSpec(arch, channels=0 if points else 1, image_size=0 if points else 28, num_classes=3, **TINY)
    G, D = build_models(spec)
    z = torch.randn(BATCH, spec.z_dim)
    with pytest.raises(ValueError, match="labels"):
        G(z)
    with pytest.raises(ValueError, match="labels"):
        D(_real(spec))
    with pytest.raises(ValueError, match=r"shape \[4\]"):
        G(z, torch.zeros(BATCH + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        G(z, torch.zeros(BATCH))
    with pytest.raises(ValueError, match="z of shape"):
        G(torch.randn(BATCH, spec.z_dim + 1), torch.zeros(BATCH, dtype=torch.long))
    with pytest.raises(ValueError, match="input of shape"):
        D(torch.randn(BATCH, 3), torch.zeros(BATCH, dtype=torch.long))


def test_labels_change_the_output() -> None:
    spec = ModelSpec("dcgan", channels=1, image_size=28, num_classes=3, **TINY)
    torch.manual_seed(0)
    G, D = build_models(spec)
    G.eval()
    D.eval()
    z = torch.randn(1, spec.z_dim).expand(3, -1)
    y = torch.arange(3)
    out = G(z, y)
    assert not torch.allclose(out[0], out[1])
    x = out[:1].expand(3, -1, -1, -1)
    logits = D(x, y)
    assert not torch.allclose(logits[0], logits[1])


def test_unconditional_models_ignore_labels() -> None:
    spec = ModelSpec("mlp", channels=1, image_size=28, **TINY)
    G, D = build_models(spec)
    G.eval()
    z = torch.randn(BATCH, spec.z_dim)
    torch.testing.assert_close(G(z), G(z, torch.zeros(BATCH, dtype=torch.long)))


# ------------------------------------------------------------------------- minibatch std
def test_minibatch_std_value_and_shapes() -> None:
    layer = MinibatchStd()
    x = torch.tensor([[0.0, 1.0], [2.0, 5.0]])  # per-feature std (biased): 1, 2 -> mean 1.5
    out = layer(x)
    assert tuple(out.shape) == (2, 3)
    assert out[:, 2].tolist() == pytest.approx([1.5, 1.5], abs=1e-6)
    img = torch.randn(5, 4, 3, 3)
    out = layer(img)
    assert tuple(out.shape) == (5, 5, 3, 3)
    assert torch.equal(out[:, :4], img)
    assert torch.allclose(out[:, 4], out[0, 4, 0, 0])


@pytest.mark.parametrize("arch", ("mlp", "dcgan", "toy"))
def test_minibatch_std_batch_of_one_is_finite(arch: str) -> None:
    points = arch == "toy"
    spec = ModelSpec(arch, channels=0 if points else 1, image_size=0 if points else 28,
                     minibatch_std=True, **TINY)
    G, D = build_models(spec)
    x = G(torch.randn(1, spec.z_dim))
    logits = D(x)
    assert tuple(logits.shape) == (1,)
    assert torch.isfinite(logits).all()
    g_loss("bce", logits).backward()
    assert all(torch.isfinite(p.grad).all() for p in [*G.parameters(), *D.parameters()] if p.grad is not None)
    x1 = torch.randn(1, 6, requires_grad=True)
    out = MinibatchStd()(x1)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x1.grad).all()


# ---------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("arch", ARCHS)
def test_same_seed_same_weights(arch: str) -> None:
    points = arch == "toy"
    spec = ModelSpec(arch, channels=0 if points else 1, image_size=0 if points else 28, num_classes=2, **TINY)

    def weights(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        G, D = build_models(spec)
        return [t.detach().clone() for t in [*G.state_dict().values(), *D.state_dict().values()]]

    a, b, c = weights(7), weights(7), weights(8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_count_parameters() -> None:
    layer = nn.Linear(3, 4)
    assert count_parameters(layer) == 16
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 16
    assert count_parameters(layer, trainable_only=True) == 12


# ---------------------------------------------------------------------------- ModelSpec
def test_spec_json_round_trip() -> None:
    spec = ModelSpec("dcgan", channels=3, image_size=64, num_classes=10, g_hidden=(8, 9), minibatch_std=True,
                     dropout=0.25, upsample="nearest", kernel_size=5)
    d = spec.to_dict()
    assert d["g_hidden"] == [8, 9] and d["arch"] == "dcgan"
    back = ModelSpec.from_dict(json.loads(json.dumps(d)))
    assert back == spec
    assert isinstance(back.g_hidden, tuple)
    assert hash(back) == hash(spec)
    assert ModelSpec.from_dict({"arch": "mlp"}) == ModelSpec("mlp")


def test_spec_from_dict_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(ValueError, match="nz"):
        ModelSpec.from_dict({"arch": "mlp", "nz": 100})
    with pytest.raises(ValueError, match="arch"):
        ModelSpec.from_dict({"z_dim": 100})
    with pytest.raises(ValueError):
        ModelSpec.from_dict(["mlp"])  # type: ignore[arg-type]


def test_spec_defaults_are_valid_and_shapes() -> None:
    ModelSpec("mlp").validate()
    ModelSpec("dcgan").validate()
    ModelSpec("toy", channels=0, image_size=0).validate()
    ModelSpec("mlp", channels=0, image_size=0).validate()  # an MLP on points is the toy model
    assert ModelSpec("mlp").data_shape == (1, 28, 28)
    assert ModelSpec("toy", channels=0, image_size=0).data_shape == (2,)


BAD_SPECS = [
    (dict(arch="resnet"), "arch", "mlp, dcgan, fccgan, toy"),
    (dict(z_dim=0), "z_dim", "1..1024"),
    (dict(z_dim=2000), "z_dim", "1..1024"),
    (dict(z_dim=True), "z_dim", "1..1024"),
    (dict(channels=2), "channels", "1 or 3"),
    (dict(image_size=48), "image_size", "28, 32, 64"),
    (dict(channels=3, image_size=0), "image_size", "28, 32, 64"),
    (dict(channels=0, image_size=28), "image_size", "must be 0"),
    (dict(arch="dcgan", channels=0, image_size=0), "arch", "toy"),
    (dict(arch="toy", channels=1, image_size=28), "channels", "must be 0"),
    (dict(arch="toy", channels=0, image_size=28), "image_size", "must be 0"),
    (dict(num_classes=-1), "num_classes", "0..1000"),
    (dict(num_classes=1001), "num_classes", "0..1000"),
    (dict(g_hidden=()), "g_hidden", "1 to 8 layer widths"),
    (dict(d_hidden=(16, 0)), "d_hidden", "each 1 to 8192"),
    (dict(d_hidden=(16,) * 9), "d_hidden", "1 to 8 layer widths"),
    (dict(g_filters=0), "g_filters", "1..1024"),
    (dict(d_filters=1025), "d_filters", "1..1024"),
    (dict(kernel_size=3), "kernel_size", "4 or 5"),
    (dict(upsample="bilinear"), "upsample", "convtranspose, nearest"),
    (dict(batchnorm="yes"), "batchnorm", "true or false"),
    (dict(dropout=0.95), "dropout", r"\[0, 0.9\]"),     # the config's range: one range, one place
    (dict(dropout=-0.1), "dropout", r"\[0, 0.9\]"),
    (dict(embed_dim=0), "embed_dim", "1..1024"),
    (dict(arch="fccgan", channels=0, image_size=0), "arch", "toy"),
    (dict(image_size=256), "image_size", "28, 32, 64, 128"),
    (dict(g_activation="tanh"), "g_activation", "auto, relu, leakyrelu"),
    (dict(g_dropout=0.95), "g_dropout", r"\[0, 0.9\]"),
    (dict(d_downsample="maxpool"), "d_downsample", "stride, avgpool"),
    (dict(minibatch_disc=-1), "minibatch_disc", "0..512"),
    (dict(minibatch_disc_dim=0), "minibatch_disc_dim", "1..128"),
]


@pytest.mark.parametrize("kwargs, field, allowed", BAD_SPECS, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_SPECS)])
def test_spec_validation_names_field(kwargs: dict, field: str, allowed: str) -> None:
    spec = ModelSpec(**{"arch": "mlp", **kwargs})
    with pytest.raises(ValueError, match=rf"ModelSpec\.{field}") as err:
        spec.validate()
    assert err.match(allowed)
    with pytest.raises(ValueError, match=field):
        build_models(spec)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_latent_projection_equals_the_transposed_conv(bias: bool, channels_last: bool) -> None:
    """G's first layer computes the transposed conv as a matrix product: same values, same grads
    (with a channels-last weight, the output comes out channels-last)."""
    from playground.models.dcgan import LatentProjection

    torch.manual_seed(0)
    fast = LatentProjection(12, 8, 7, 1, 0, bias=bias)
    plain = nn.ConvTranspose2d(12, 8, 7, 1, 0, bias=bias)
    plain.load_state_dict(fast.state_dict())
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
        assert fast(torch.randn(2, 12, 1, 1)).is_contiguous(memory_format=torch.channels_last)
    z = torch.randn(5, 12, 1, 1)
    out_fast, out_plain = fast(z), plain(z)
    assert out_fast.shape == (5, 8, 7, 7)
    torch.testing.assert_close(out_fast, out_plain, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(out_plain)
    (out_fast * w).sum().backward()
    (out_plain * w).sum().backward()
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, atol=1e-4, rtol=1e-4)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad, atol=1e-4, rtol=1e-4)
    bigger = torch.randn(2, 12, 3, 3)                      # not 1x1: the ordinary conv path
    torch.testing.assert_close(fast(bigger), plain(bigger))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_whole_input_conv_equals_the_conv(bias: bool, channels_last: bool) -> None:
    """D's last layer (kernel = its whole input) as a matrix product: same values, same grads, for
    NCHW and channels-last tensors; other inputs take the conv path."""
    from playground.models.layers import WholeInputConv

    torch.manual_seed(0)
    fast = WholeInputConv(6, 2, 7, 1, 0, bias=bias)
    plain = nn.Conv2d(6, 2, 7, 1, 0, bias=bias)
    plain.load_state_dict(fast.state_dict())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fast, plain = fast.to(memory_format=fmt), plain.to(memory_format=fmt)
    x = torch.randn(5, 6, 7, 7).contiguous(memory_format=fmt).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    out_fast, out_plain = fast(x), plain(x2)
    assert out_fast.shape == out_plain.shape == (5, 2, 1, 1)
    torch.testing.assert_close(out_fast, out_plain, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(out_plain)
    (out_fast * w).sum().backward()
    (out_plain * w).sum().backward()
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-5, rtol=1e-5)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad, atol=1e-4, rtol=1e-4)
    bigger = torch.randn(2, 6, 9, 9)                       # not the kernel's size: the conv path
    torch.testing.assert_close(fast(bigger), plain(bigger))


def test_dropout_keeps_one_minus_p_and_scales() -> None:
    """The CPU mask draw of layers.Dropout: kept with probability 1 - p, kept values scaled by
    1 / (1 - p), gradient through the same mask, identity in eval mode."""
    from playground.models.layers import Dropout

    torch.manual_seed(0)
    d = Dropout(0.3)
    x = torch.full((400, 500), 2.0, requires_grad=True)
    out = d(x)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005          # 200k draws: std of the rate 0.001
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0 / 0.7))
    out.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.7)
    assert torch.equal(d.eval()(x), x)
    torch.manual_seed(1)
    a = d.train()(x)
    torch.manual_seed(1)
    assert torch.equal(a, d(x))                                   # seeded: reproducible
    assert not torch.equal(a, d(x))                               # and a new mask each call
    state = torch.get_rng_state()                                 # a checkpoint's saved RNG state
    b = d(x)
    torch.set_rng_state(state)
    assert torch.equal(b, d(x))                                   # reproduces the mask after it


def test_dropout_mask_words_are_independent_and_exact() -> None:
    """layers.keep_mask takes two 32-bit words from each 64-bit draw: neighbours (the two halves of
    one draw) are kept independently; the threshold gives 1 - p to within 2**-33; odd sizes work."""
    from playground.models.layers import Dropout, keep_mask

    torch.manual_seed(0)
    m = keep_mask(torch.Size([500, 400]), 0.5) > 0                # 200k values, 100k neighbour pairs
    both = (m[:, 0::2] & m[:, 1::2]).float().mean().item()
    assert abs(both - 0.25) < 0.006                               # std of the rate 0.0014
    assert abs(m.float().mean().item() - 0.5) < 0.005
    odd = keep_mask(torch.Size([3, 5, 7]), 0.25)
    assert odd.shape == (3, 5, 7) and odd.dtype == torch.float32
    assert set(odd.unique().tolist()) <= {0.0, torch.tensor(1.0 / 0.75).item()}
    assert keep_mask(torch.Size([1000]), 2.0**-40).min().item() == 1.0   # below the resolution: all kept
    cl = torch.ones(8, 3, 5, 7).contiguous(memory_format=torch.channels_last)
    out = Dropout(0.5)(cl)                                        # a channels-last input stays so
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    assert set(out.unique().tolist()) <= {0.0, 2.0} and 0 < (out == 0).sum() < out.numel()
    x64 = torch.ones(200, 500, dtype=torch.float64)               # other dtypes: nn.Dropout's own draw
    out = Dropout(0.3)(x64)
    assert out.dtype == torch.float64 and abs((out != 0).double().mean().item() - 0.7) < 0.005


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_plain_torch_layers_compute_the_same_models(arch: str) -> None:
    """The benchmark's textbook loop runs the models as plain torch.nn layers: same outputs."""
    import copy

    from playground.models.layers import plain_torch_layers

    torch.manual_seed(0)
    G, D = build_models(ModelSpec(arch, z_dim=16, channels=1, image_size=28, g_filters=8, d_filters=8,
                                  g_hidden=(32,), d_hidden=(32,), dropout=0.3))
    G.eval(), D.eval()
    pg, pd = plain_torch_layers(copy.deepcopy(G)), plain_torch_layers(copy.deepcopy(D))

    def layer_types(*models):
        return {type(m) for net in models for m in net.modules() if not list(m.children())}

    assert any(t.__module__.startswith("playground") for t in layer_types(G, D))   # faster forms used
    assert all(t.__module__.startswith("torch.nn") for t in layer_types(pg, pd))   # none left
    z = torch.randn(4, 16)
    torch.testing.assert_close(pg(z), G(z), atol=1e-5, rtol=1e-5)
    x = G(z)
    torch.testing.assert_close(pd(x), D(x), atol=1e-5, rtol=1e-5)
