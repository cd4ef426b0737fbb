"""Latent-space helpers: interpolation, arithmetic, the generator cache, and the toy gradient field."""

import os
import time

import numpy as np
import pytest
import torch
from torch import nn

from playground import latent
from playground.runs import Run, RunError
from playground.worker import train_run


def _train(path, cfg):
    run = Run(path)
    run.create(cfg)
    assert train_run(run, echo=False) == 0
    return run


@pytest.fixture
def image_run(tmp_path, tiny_cfg):
    return _train(tmp_path / "img", tiny_cfg(arch="mlp", epochs=1))


@pytest.fixture
def toy_run(tmp_path, tiny_cfg):
    return _train(tmp_path / "toy", tiny_cfg(dataset="ring", epochs=2))


# ----------------------------------------------------------------------------- interpolation
def test_linear_interpolation_endpoints_and_midpoint():
    z0, z1 = torch.tensor([1.0, 2.0, -3.0]), torch.tensor([3.0, 0.0, 1.0])
    path = latent.interpolate(z0, z1, 5, "linear")
    assert path.shape == (5, 3)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.allclose(path[2], torch.tensor([2.0, 1.0, -1.0]))
    steps = path[1:] - path[:-1]                       # equal steps on a straight line
    assert torch.allclose(steps, steps[0].expand_as(steps), atol=1e-6)


def test_slerp_keeps_the_norm_and_hits_both_ends():
    z0, z1 = latent.seed_latent(64, 1), latent.seed_latent(64, 2)
    z1 = z1 / z1.norm() * z0.norm()                    # equal norms: slerp stays on that sphere
    path = latent.interpolate(z0, z1, 9, "slerp")
    assert torch.allclose(path[0], z0) and torch.allclose(path[-1], z1)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(9), rtol=1e-5)
    # the straight line cuts through the inside of the sphere; slerp does not
    lin = latent.interpolate(z0, z1, 9, "linear")
    assert lin[4].norm() < 0.95 * z0.norm()
    # a quarter turn: the midpoint of slerp between orthogonal unit vectors is at 45°
    mid = latent.interpolate(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 3, "slerp")[1]
    assert torch.allclose(mid, torch.tensor([2 ** -0.5, 2 ** -0.5]), atol=1e-6)


def test_slerp_of_parallel_vectors_falls_back_to_a_line():
    z0 = torch.tensor([1.0, 1.0])
    path = latent.interpolate(z0, 3 * z0, 3, "slerp")
    assert torch.allclose(path[1], 2 * z0)


@pytest.mark.parametrize("args, msg", [
    ((torch.zeros(3), torch.zeros(4), 5, "linear"), "same length"),
    ((torch.zeros(3), torch.zeros(3), 1, "linear"), "at least 2"),
    ((torch.zeros(3), torch.zeros(3), 5, "cubic"), "linear' or 'slerp"),
])
def test_interpolation_rejects_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        latent.interpolate(*args)


# ----------------------------------------------------------------------------- arithmetic
def test_arithmetic_shapes_and_averaging():
    a, b, c = torch.randn(3, 16), torch.randn(1, 16), torch.randn(2, 16)
    out = latent.arithmetic(a, b, c)
    assert out.shape == (16,)
    assert torch.allclose(out, a.mean(0) - b[0] + c.mean(0))
    single = latent.arithmetic(a[0], b[0], c[0])
    assert torch.allclose(single, a[0] - b[0] + c[0])
    with pytest.raises(ValueError, match="same z_dim"):
        latent.arithmetic(torch.zeros(16), torch.zeros(8), torch.zeros(16))
    with pytest.raises(ValueError, match="at least one"):
        latent.arithmetic(torch.zeros(0, 16), b, c)


def test_seed_latent_is_reproducible_and_seed_dependent():
    assert torch.equal(latent.seed_latent(10, 7), latent.seed_latent(10, 7))
    assert not torch.equal(latent.seed_latent(10, 7), latent.seed_latent(10, 8))
    assert latent.seed_latents(10, [1, 2, 3]).shape == (3, 10)


# ----------------------------------------------------------------------------- sampling and pictures
def test_sample_images_and_png(image_run):
    gen = latent.load_generator(image_run, 1)
    z = latent.seed_latents(gen.z_dim, [0, 1])
    images = latent.sample_images(gen, z)
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.uint8
    # the same z gives the same image; another z another image
    again = latent.sample_images(gen, z[:1])
    assert np.array_equal(again[0], images[0]) and not np.array_equal(images[0], images[1])
    big = latent.upscale(images[0], 10)
    assert big.shape == (280, 280, 1) and np.array_equal(big[::10, ::10], images[0])
    png = latent.png_fast(big)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert latent.strip(images).shape == (32, 2 * 30 + 2, 1)
    with pytest.raises(ValueError, match="not conditional"):
        latent.sample_images(gen, z, label=3)
    with pytest.raises(ValueError, match=r"\[N, 8\]"):
        latent.sample(gen, torch.zeros(2, 5))


def test_conditional_labels(tmp_path, tiny_cfg):
    run = _train(tmp_path / "cond", tiny_cfg(arch="mlp", conditional=True))
    gen = latent.load_generator(run, 1)
    z = latent.seed_latent(gen.z_dim, 0).expand(10, -1)
    per_class = latent.sample_images(gen, z, None)      # labels cycle 0..9: same z, ten classes
    assert len({per_class[i].tobytes() for i in range(10)}) > 1
    one = latent.sample_images(gen, z[:1], 3)
    assert np.array_equal(one[0], per_class[3])
    with pytest.raises(ValueError, match="between 0 and 9"):
        latent.sample_images(gen, z[:1], 10)
    real = latent.real_examples(run, 8, label=3)
    assert 0 < len(real) <= 8 and real.shape[1:] == (28, 28, 1) and real.dtype == np.uint8


# ----------------------------------------------------------------------------- the cache
def test_cache_reuses_and_reloads_a_changed_snapshot(image_run):
    cache = latent.GeneratorCache(maxsize=2)
    first = cache.get(image_run, 1)
    assert cache.get(image_run, 1) is first and cache.loads == 1
    # rewrite the epoch-1 snapshot with the epoch-0 weights, as a resumed run re-saving it would
    stem1, stem0 = image_run.snapshot_stem(1), image_run.snapshot_stem(0)
    for suffix in (".json", ".safetensors"):
        stem1.with_suffix(suffix).write_bytes(stem0.with_suffix(suffix).read_bytes())
    later = time.time() + 5
    os.utime(stem1.with_suffix(".safetensors"), (later, later))
    reloaded = cache.get(image_run, 1)
    assert reloaded is not first and cache.loads == 2 and len(cache) == 1   # the stale entry is gone
    z = latent.seed_latents(first.z_dim, [0])
    assert np.array_equal(latent.sample_images(reloaded, z), latent.sample_images(cache.get(image_run, 0), z))
    assert not np.array_equal(latent.sample_images(reloaded, z), latent.sample_images(first, z))
    # least recently used entries leave when the cache is full
    cache.get(image_run, 0)
    cache.get(image_run, 1)
    assert len(cache) == 2 and cache.loads == 3
    with pytest.raises(RunError, match="no generator snapshot at epoch 7"):
        cache.get(image_run, 7)


# ----------------------------------------------------------------------------- 2D toys
class _LinearD(nn.Module):
    """D(x) = w·x + b: its gradient with respect to x is w everywhere."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w, self.b = torch.tensor(w), b

    def forward(self, x, y=None):
        return x @ self.w + self.b


@pytest.mark.parametrize("objective", ["bce", "minimax", "lsgan", "hinge", "wgan-gp"])
def test_gradient_field_matches_closed_form(objective):
    D = _LinearD([2.0, -1.0], 0.5)
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 3.0]])
    f = D(x)
    s = torch.sigmoid(f)
    w = D.w
    # d(loss term)/df per point, negated: the push along w
    scale = {"bce": 1 - s, "minimax": s, "lsgan": 1 - f, "hinge": torch.ones(3), "wgan-gp": torch.ones(3)}[objective]
    push = latent.gradient_field(D, objective, x)
    assert push.shape == (3, 2)
    np.testing.assert_allclose(push, (scale[:, None] * w).numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_field_on_a_trained_toy_pushes_towards_what_d_calls_real(toy_run):
    gen = latent.load_generator(toy_run, 2)
    assert gen.D is not None and gen.is_points
    points, push = latent.toy_field(gen, n=64)
    assert points.shape == push.shape == (64, 2) and np.all(np.isfinite(push))
    # the run's fixed noise: the same points the trainer saved for epoch 2
    saved = latent.toy_epoch_arrays(toy_run, 2)
    np.testing.assert_allclose(points, saved["fake"][:64], atol=1e-5)
    # with the non-saturating loss the push is a positive multiple of grad_x D(x): a small step
    # along it raises D's logit at every point that has a push at all
    x = torch.from_numpy(points)
    unit = torch.from_numpy(push / np.linalg.norm(push, axis=1, keepdims=True).clip(1e-12))
    with torch.no_grad():
        before, after = gen.D(x), gen.D(x + 1e-3 * unit)
    moved = np.linalg.norm(push, axis=1) > 1e-8
    assert moved.any() and bool((after[moved] > before[moved]).all())


def test_decision_surface_matches_the_saved_one(toy_run):
    gen = latent.load_generator(toy_run, 1)
    shown, logits = latent.decision_surface(gen)
    saved = latent.toy_epoch_arrays(toy_run, 1)
    assert shown.shape == (64, 64) and 0.0 <= shown.min() and shown.max() <= 1.0
    np.testing.assert_allclose(logits, saved["d_logits"], atol=1e-5)
    np.testing.assert_allclose(shown, saved["d_surface"], atol=1e-5)
    assert latent.toy_epochs(toy_run) == [0, 1, 2]


def test_each_kind_refuses_the_other_kinds_view(image_run, toy_run):
    with pytest.raises(RunError, match="no discriminator"):
        latent.decision_surface(latent.load_generator(image_run, 1))
    with pytest.raises(ValueError, match="not images"):
        latent.sample_images(latent.load_generator(toy_run, 1), torch.zeros(1, 2))


def test_arrow_segments_scale_and_shape():
    pts = np.array([[0.0, 0.0], [1.0, 1.0]])
    dirs = np.array([[2.0, 0.0], [0.0, 1.0]])
    xs, ys = latent.arrow_segments(pts, dirs, max_len=0.5)
    assert xs.shape == ys.shape == (14,)                      # 7 entries per arrow
    assert (xs[0], ys[0], xs[1], ys[1]) == (0.0, 0.0, 0.5, 0.0)   # the longest arrow is max_len
    assert np.isclose(ys[8] - ys[7], 0.25)                    # the other keeps its relative length
    assert np.isnan(xs[3]) and np.isnan(xs[6])


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with latent.one_thread():
            assert torch.get_num_threads() == 1
            with latent.one_thread():           # nested (another session at the same time)
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
