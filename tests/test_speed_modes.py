"""Every speed mode trains to the same losses as the plain textbook step.

The reference here is written out step by step the way the PyTorch DCGAN example does it (two D
calls, a full backward through D for G's loss, for-each Adam, fp32, NCHW), consuming the random
number generator in the same order as the Trainer. Each speed mode of the Trainer (benchmarks/README.md, "Speed")
must reproduce its per-step losses: tightly for the exact modes, loosely for bf16.
"""

import argparse
import math

import pytest
import torch
import torch.nn.functional as F

from playground import speed
from playground.config import TrainConfig
from playground.data import DataInfo, LoadedData
from playground.models import ModelSpec, build_models
from playground.runs import Run
from playground.training import Hooks, Trainer, model_spec

STEPS_PER_EPOCH, EPOCHS, BATCH = 4, 2, 8
PLAIN = dict(threads=1, precision="fp32", channels_last=False, fused_adam=False, joint_d_batch="off",
             compile=False)


def _data(seed: int = 0) -> LoadedData:
    """Tiny images with structure (a bright square that moves), uint8 [32, 1, 28, 28], 10 classes."""
    g = torch.Generator().manual_seed(seed)
    n = STEPS_PER_EPOCH * BATCH
    x = torch.randint(0, 40, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    for i in range(n):
        r, c = 4 + i % 16, 4 + (3 * i) % 16
        x[i, 0, r:r + 8, c:c + 8] = 230
    info = DataInfo(name="mnist", kind="images", source="npz", location="", n=n, channels=1,
                    image_size=28, num_classes=10, class_names=[str(k) for k in range(10)])
    return LoadedData(info, x, torch.arange(n) % 10)


def _cfg(**over) -> TrainConfig:
    base = dict(dataset="mnist", batch_size=BATCH, epochs=EPOCHS, z_dim=8, g_filters=8, d_filters=8,
                g_hidden=(32, 32), d_hidden=(32, 32), log_every=1, sample_count=4, quality_samples=0,
                device="cpu", seed=3, lr_g=1e-3, lr_d=1e-3, **PLAIN)
    base.update(over)
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **base}).validate()


def trainer_losses(tmp_path, cfg: TrainConfig) -> list[tuple[float, float]]:
    """(loss_d, loss_g) of every step of a real Trainer run (log_every=1: one line per step)."""
    run = Run(tmp_path / f"run{len(list(tmp_path.iterdir()))}")
    run.create(cfg)
    threads = torch.get_num_threads()
    try:
        Trainer(run, cfg, _data(), torch.device("cpu"), Hooks()).fit()
    finally:
        torch.set_num_threads(threads)  # the Trainer sets the process's thread count
    records, _ = run.read_metrics()
    return [(r["loss_d"], r["loss_g"]) for r in records if r["type"] == "step"]


def reference_losses(cfg: TrainConfig, joint: bool = False) -> list[tuple[float, float]]:
    """The textbook step, fp32 and plain, drawing random numbers in the Trainer's order (``joint``:
    D's loss from one call on [real; fake])."""
    data = _data()
    torch.manual_seed(cfg.seed)
    G, D = build_models(model_spec(cfg, data.info))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2), foreach=False)
    out = []
    for _ in range(EPOCHS):
        perm = torch.randperm(len(data))
        for i in range(STEPS_PER_EPOCH):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            real, y = data.x[idx].float() / 127.5 - 1.0, data.y[idx]
            y = y if cfg.conditional else None
            fake = G(torch.randn(BATCH, cfg.z_dim), y)
            if joint:
                both = D(torch.cat([real, fake.detach()]), None if y is None else torch.cat([y, y]))
                loss_d = F.softplus(-both[:BATCH]).mean() + F.softplus(both[BATCH:]).mean()
            else:
                loss_d = F.softplus(-D(real, y)).mean() + F.softplus(D(fake.detach(), y)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = F.softplus(-D(fake, y)).mean()
            opt_g.zero_grad()
            loss_g.backward()   # also fills D's gradients, which the next zero_grad drops
            opt_g.step()
            out.append((loss_d.item(), loss_g.item()))
    return out


def _close(a, b, rel):
    assert len(a) == len(b) == EPOCHS * STEPS_PER_EPOCH
    for step, ((ad, ag), (bd, bg)) in enumerate(zip(a, b)):
        assert ad == pytest.approx(bd, rel=rel), (step, a, b)
        assert ag == pytest.approx(bg, rel=rel), (step, a, b)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_plain_path_is_the_textbook_step(tmp_path, arch):
    cfg = _cfg(arch=arch)
    ref = reference_losses(cfg)
    _close(trainer_losses(tmp_path, cfg), ref, rel=1e-5)
    # the run learnt something: not a constant loss a broken loop would also reproduce
    assert len({round(d, 6) for d, _ in ref}) > 1


@pytest.mark.parametrize("arch,mode", [
    ("dcgan", dict(channels_last=True)),
    ("mlp", dict(fused_adam=True)),
    ("dcgan", dict(fused_adam=True)),
    ("mlp", dict(joint_d_batch="on")),                       # MLP D: per sample, so exact
    ("mlp", dict(threads=0, fused_adam=True, joint_d_batch="auto")),                  # the CPU defaults
    ("dcgan", dict(joint_d_batch="on", batchnorm=False)),    # DCGAN D without BatchNorm: exact
    ("mlp", dict(threads=2)),
    ("dcgan", dict(threads=2)),
    ("dcgan", dict(threads=0, channels_last=True, fused_adam=True, joint_d_batch="auto")),  # defaults
    ("mlp", dict(conditional=True, joint_d_batch="on", fused_adam=True)),
])
def test_exact_modes_match_the_plain_step(tmp_path, arch, mode):
    cfg = _cfg(arch=arch, **mode)
    _close(trainer_losses(tmp_path, cfg), reference_losses(cfg), rel=2e-4)


def test_bf16_autocast_stays_close(tmp_path):
    """bf16 rounds every product to 8 bits of mantissa: close to fp32, not equal."""
    cfg = _cfg(arch="dcgan", precision="bf16")
    got, ref = trainer_losses(tmp_path, cfg), reference_losses(cfg)
    _close(got, ref, rel=0.1)
    assert got != ref  # it really ran in bf16


def test_joint_batch_with_dropout_is_one_call_on_both(tmp_path):
    """With dropout, one D call on [real; fake] draws the masks in another order than two calls: the
    Trainer's joint mode is exactly that one call (below: each sample's mask has the same law)."""
    cfg = _cfg(arch="mlp", dropout=0.3, joint_d_batch="on")
    got = trainer_losses(tmp_path, cfg)
    _close(got, reference_losses(cfg, joint=True), rel=2e-4)
    assert got != reference_losses(cfg)


def test_dropout_masks_have_the_same_law_in_one_call_or_two():
    """D's output per sample, averaged over many mask draws, is the same whether real and fake go
    through D together or one after the other (to a few standard errors)."""
    torch.manual_seed(0)
    _, D = build_models(ModelSpec("mlp", z_dim=8, channels=1, image_size=28, d_hidden=(32, 32), dropout=0.3))
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        one = torch.stack([D(x) for _ in range(4000)])                               # [draws, 4]
        two = torch.stack([torch.cat([D(x[:2]), D(x[2:])]) for _ in range(4000)])
    se = (one.var(0) / 4000 + two.var(0) / 4000).sqrt()
    assert ((one.mean(0) - two.mean(0)).abs() < 5 * se).all()
    assert (one.std(0) > 0).all()                                   # masks really vary


def test_joint_batch_with_batchnorm_is_a_different_variant(tmp_path):
    """Forced on a D with BatchNorm, real and fake are normalised together: other losses (which is
    why 'auto' never does it)."""
    cfg = _cfg(arch="dcgan", joint_d_batch="on")
    got, ref = trainer_losses(tmp_path, cfg), reference_losses(cfg)
    assert got[0][0] != pytest.approx(ref[0][0], rel=1e-3)
    assert all(math.isfinite(d) and math.isfinite(g) for d, g in got)


def test_compile_mode_trains_like_eager(tmp_path):
    """torch.compile (default mode) of the MLP pair reproduces the eager losses."""
    pytest.importorskip("torch._inductor")
    cfg = _cfg(arch="mlp", compile=True, compile_mode="default", g_hidden=(16,), d_hidden=(16,))
    _close(trainer_losses(tmp_path, cfg), reference_losses(cfg), rel=1e-3)


# ----------------------------------------------------------------------------- what auto picks
def _spec(**over):
    return ModelSpec(**{"arch": "dcgan", "z_dim": 8, "channels": 1, "image_size": 28, **over})


def test_auto_picks_per_device(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    cfg = TrainConfig()
    p = speed.resolve(cfg, _spec(), cpu)
    assert p.autocast is None and p.channels_last and p.fused_adam and not p.joint_d_batch
    assert p.threads == speed.physical_cores() and p.compile_mode is None
    assert speed.resolve(cfg, _spec(arch="mlp"), cpu).joint_d_batch        # exact there, and faster
    assert speed.resolve(cfg.replace(threads=3), _spec(), cpu).threads == 3
    assert not speed.resolve(cfg, _spec(arch="mlp"), cpu).channels_last   # no convolutions
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    g = speed.resolve(cfg, _spec(), cuda)
    assert g.autocast == torch.bfloat16 and g.threads is None and g.cudnn_benchmark
    assert not g.joint_d_batch                                   # DCGAN's D has BatchNorm
    assert speed.resolve(cfg, _spec(arch="mlp"), cuda).joint_d_batch
    assert speed.resolve(cfg, _spec(d_batchnorm=False), cuda).joint_d_batch   # WGAN-GP critic
    assert not speed.resolve(cfg, _spec(arch="mlp", minibatch_std=True), cuda).joint_d_batch
    assert speed.resolve(cfg.replace(precision="fp32"), _spec(), cuda).autocast is None
    assert speed.resolve(cfg.replace(compile=True), _spec(), cuda).compile_mode == "reduce-overhead"


def test_auto_threads_share_the_cores_among_job_slots(monkeypatch):
    monkeypatch.setattr(speed, "physical_cores", lambda: 8)
    monkeypatch.delenv(speed.JOB_SLOTS_ENV, raising=False)
    assert speed.auto_threads() == 8
    for slots, threads in (("2", 4), ("3", 2), ("16", 1), ("0", 8), ("x", 8)):
        monkeypatch.setenv(speed.JOB_SLOTS_ENV, slots)
        assert speed.auto_threads() == threads, slots


def test_bad_speed_values_name_the_field():
    from playground.config import ConfigError
    for field, value in (("joint_d_batch", "sometimes"), ("compile_mode", "fast"), ("threads", -1)):
        with pytest.raises(ConfigError) as e:
            TrainConfig.from_dict({field: value}).validate()
        assert field in e.value.errors


def test_joint_batch_matches_two_calls_for_the_wgan_gp_critic(tmp_path):
    """The WGAN-GP critic has no BatchNorm, so 'auto' would batch it on a GPU: same losses, penalty
    and all, as two separate calls (compared Trainer against Trainer)."""
    over = dict(arch="dcgan", objective="wgan-gp", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9)
    two = trainer_losses(tmp_path, _cfg(**over))
    one = trainer_losses(tmp_path, _cfg(**over, joint_d_batch="on"))
    _close(one, two, rel=2e-4)


def test_bench_reports_both_loops(tmp_path, monkeypatch):
    """A tiny run of the benchmark: both loops time real steps, and the project side is the
    Trainer with its speed plan (the matmul peak is stubbed: timing it takes seconds)."""
    import json

    from playground import bench

    monkeypatch.setattr(bench, "matmul_peak", lambda device, dtype=None, repeats=5: 1e12)
    out = tmp_path / "r.json"
    assert bench.main(["--models", "mlp-28", "--batch", "8", "--repeats", "1", "--window-s", "0.01",
                       "--workers", "0", "--out", str(out)]) == 0
    r = json.loads(out.read_text())["models"]["mlp-28"]
    assert r["textbook_median"] > 0 and r["project_median"] > 0 and r["ratio_median_of_pairs"] > 0
    assert r["project_speed"]["fused_adam"] and r["flops_per_image"] > 1e6
    # Each loop's share of the peak uses its own count: the project's step does the textbook's
    # matrix products except D's weight gradients in G's update (2 FLOPs per weight and image).
    cfg, info = bench.model_config("mlp-28", argparse.Namespace(batch=8, overrides={}), torch.device("cpu"))
    _, D = build_models(model_spec(cfg, info))
    d_weights = sum(m.weight.numel() for m in D.modules() if isinstance(m, torch.nn.Linear))
    assert r["flops_per_image"] - r["project_flops_per_image"] == 2 * d_weights
    # The bound "products alone" replays exactly the step's matrix products: D's update runs D
    # forward, its weight gradients and the input gradients of all but its first layer; G's forward;
    # G's update runs D forward and D's input gradients (no weight gradients), then G's weight
    # gradients and the input gradients of all but G's first layer.
    ld, lg = len(cfg.d_hidden) + 1, len(cfg.g_hidden) + 1
    assert r["project_heavy_ops_per_step"] == (3 * ld - 1) + lg + 2 * ld + (2 * lg - 1)
    assert r["project_heavy_ops_alone_images_per_s"] > r["project_median"]
    assert bench.main(["--models", "nope"]) == 2
