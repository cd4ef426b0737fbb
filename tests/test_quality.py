"""The quality figure: the shipped classifiers, the Fréchet distance, class coverage, toy modes,
the "not available" cases, and the per-epoch figure in a real tiny run."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import quality
from playground.config import ConfigError, TrainConfig
from playground.data import BUNDLED_DIR, load_dataset, toy_modes
from playground.data.toy import make_toy
from playground.runs import Run
from playground.worker import train_run

N = 2000  # the reference points were computed with this many images


@pytest.fixture(scope="module")
def fashion():
    return quality.load_classifier("fashion-mnist")


@pytest.fixture(scope="module")
def fashion_real():
    """2,000 real Fashion-MNIST training images [N, 1, 28, 28] in [-1, 1] and their labels."""
    d = load_dataset("fashion-mnist", source="bundled", max_images=N, seed=7)
    return d.x.float().div(127.5).sub(1.0), d.y


@pytest.mark.parametrize("name,min_acc", [("fashion-mnist", 0.85), ("mnist", 0.95)])
def test_classifier_ships_with_its_accuracy_and_references(name, min_acc):
    meta = json.loads((quality.CLASSIFIER_DIR / f"{name}.json").read_text())
    assert meta["kind"] == "classifier" and meta["dataset"] == name
    assert meta["test_accuracy"] >= min_acc
    refs = meta["references"]
    floor, ceiling = refs["real_train_vs_test"]["fd"], refs["uniform_noise_vs_test"]["fd"]
    assert 0 < floor < 0.05 * ceiling
    assert refs["real_train_vs_test"]["classes"] == 10
    assert "test" in meta["split"] and meta["reference_n"] == N
    size = (quality.CLASSIFIER_DIR / f"{name}.safetensors").stat().st_size
    assert size < 2_000_000


def test_classifier_loads_without_unpickling(monkeypatch):
    def no_pickle(*a, **k):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    s = quality.load_classifier("mnist")
    assert s.mu.shape == (quality.FEATURE_DIM,) and s.cov.shape == (quality.FEATURE_DIM,) * 2
    head = (quality.CLASSIFIER_DIR / "mnist.safetensors").read_bytes()[:9]
    assert head[8:9] == b"{"   # safetensors: 8-byte header length, then a JSON header


def test_damaged_classifier_gives_a_clear_error(tmp_path):
    for suffix in (".json", ".safetensors"):
        shutil.copy(quality.CLASSIFIER_DIR / f"fashion-mnist{suffix}", tmp_path / f"fashion-mnist{suffix}")
    data = (tmp_path / "fashion-mnist.safetensors").read_bytes()
    (tmp_path / "fashion-mnist.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(quality.QualityError, match="truncated"):
        quality.load_classifier("fashion-mnist", tmp_path)
    with pytest.raises(quality.QualityError, match="missing"):
        quality.load_classifier("mnist", tmp_path)


def test_real_images_score_near_the_floor_and_noise_near_the_ceiling(fashion, fashion_real):
    x, _ = fashion_real
    refs = fashion.meta["references"]
    floor = refs["real_train_vs_test"]["fd"]
    real = fashion.score(x)
    assert real["fd"] < 2 * floor + 1.0
    assert real["classes"] == 10
    assert abs(real["confident"] - refs["real_train_vs_test"]["confident"]) < 0.05
    g = torch.Generator().manual_seed(99)
    noise = fashion.score(torch.rand(N, 1, 28, 28, generator=g) * 2 - 1)
    ceiling = refs["uniform_noise_vs_test"]["fd"]
    assert abs(noise["fd"] - ceiling) < 0.2 * ceiling
    assert noise["fd"] > 20 * real["fd"]


def test_the_figure_ranks_degraded_images_in_order(fashion, fashion_real):
    x, _ = fashion_real
    g = torch.Generator().manual_seed(3)
    noise = torch.rand(x.shape, generator=g) * 2 - 1
    fds = [fashion.score(((1 - a) * x + a * noise)[:1000])["fd"] for a in (0.0, 0.3, 0.7)]
    assert fds == sorted(fds) and fds[-1] > 3 * fds[0]


def test_one_class_only_shows_as_low_coverage(fashion, fashion_real):
    x, y = fashion_real
    trousers = x[y == 1]
    s = fashion.score(trousers)
    assert s["classes"] <= 2 and s["confident"] > 0.5
    assert s["fd"] > 5 * fashion.meta["references"]["real_train_vs_test"]["fd"]


def test_frechet_distance_matches_the_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    v1, v2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    want = float(((mu1 - mu2) ** 2).sum() + ((v1.sqrt() - v2.sqrt()) ** 2).sum())
    assert quality.frechet_distance(mu1, torch.diag(v1), mu2, torch.diag(v2)) == pytest.approx(want)
    a = torch.randn(50, 5, generator=torch.Generator().manual_seed(0))
    mu, cov = quality.feature_stats(a)
    assert quality.frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-6)


def test_toy_modes_covered_and_off_mode():
    x, _, _, _ = make_toy("ring", N, seed=5)
    q = quality.toy_quality(x, "ring")
    assert q["modes_covered"] == 8 and q["modes"] == 8 and q["off_mode"] < 0.03
    one = torch.from_numpy(toy_modes("ring"))[2] + 0.05 * torch.randn(N, 2, generator=torch.Generator().manual_seed(1))
    q = quality.toy_quality(one, "ring")
    assert q["modes_covered"] == 1 and q["off_mode"] < 0.03
    spread = torch.rand(N, 2, generator=torch.Generator().manual_seed(2)) * 8 - 4
    assert quality.toy_quality(spread, "ring")["off_mode"] > 0.9
    assert quality.quality_for(x, "grid", "points")["modes"] == 25


@pytest.mark.parametrize("dataset,kind,size,chans,why", [
    ("cifar10", "images", 32, 3, "MNIST and Fashion-MNIST only"),
    ("folder", "images", 64, 3, "MNIST and Fashion-MNIST only"),
    ("mnist", "images", 32, 1, "grey 28×28"),
    ("spiral", "points", 0, 0, "no point modes"),
    ("moons", "points", 0, 0, "no point modes"),
])
def test_no_figure_is_invented(dataset, kind, size, chans, why):
    x = torch.zeros(4, 2) if kind == "points" else torch.zeros(4, chans, size, size)
    q = quality.quality_for(x, dataset, kind, size, chans)
    assert q["available"] is False and why in q["reason"] and set(q) == {"available", "reason"}


def test_non_finite_outputs_give_no_number():
    x = torch.zeros(300, 1, 28, 28)
    x[5, 0, 3, 3] = float("nan")
    q = quality.quality_for(x, "mnist", "images", 28, 1)
    assert q["available"] is False and "not finite" in q["reason"]
    pts = torch.full((300, 2), float("inf"))
    assert quality.quality_for(pts, "ring", "points")["available"] is False


def test_quality_samples_is_validated():
    TrainConfig(quality_samples=0).validate()
    for bad in (-1, 50, 50_000):
        with pytest.raises(ConfigError, match="quality_samples"):
            TrainConfig(quality_samples=bad).validate()


def test_every_epoch_of_a_real_run_carries_the_figure(tmp_path, tiny_cfg):
    run = Run(tmp_path / "run")
    run.create(tiny_cfg(epochs=2, quality_samples=300, conditional=True, arch="mlp"))
    assert train_run(run, echo=False) == 0
    records, _ = run.read_metrics()
    lines = [r for r in records if "quality" in r]
    assert [(r["type"], r["epoch"]) for r in lines] == [("quality", 0), ("epoch", 1), ("epoch", 2)]
    for r in lines:
        q = r["quality"]
        assert q["available"] is True and q["n"] == 300
        assert q["fd"] > 0 and 0 <= q["confident"] <= 1 and 0 <= q["classes"] <= 10
        assert r["diversity"] > 0 and 0 < r["class_diversity"] <= 2 * r["diversity"]
    # an untrained tiny generator is nowhere near real images
    floor = quality.load_classifier("mnist").meta["references"]["real_train_vs_test"]["fd"]
    assert lines[0]["quality"]["fd"] > 10 * floor


def test_a_run_with_the_figure_off_says_so(tmp_path, tiny_cfg):
    run = Run(tmp_path / "run")
    run.create(tiny_cfg(quality_samples=0))
    assert train_run(run, echo=False) == 0
    records, _ = run.read_metrics()
    q = [r["quality"] for r in records if "quality" in r]
    assert len(q) == 2 and all(x == {"available": False, "reason": q[0]["reason"]} for x in q)
    assert "quality_samples = 0" in q[0]["reason"]


@pytest.mark.skipif(not Path("/work/shared/datasets/fashion-mnist.npz").is_file(),
                    reason="the full Fashion-MNIST file is not on this machine")
def test_held_out_test_images_score_near_the_floor(fashion):
    with np.load("/work/shared/datasets/fashion-mnist.npz", allow_pickle=False) as d:
        test = d["images"][d["is_test"] == 1]
    pick = np.random.default_rng(11).choice(len(test), N, replace=False)
    x = torch.from_numpy(test[pick]).float().div(127.5).sub(1.0)[:, None]
    s = fashion.score(x)
    assert s["fd"] < 2 * fashion.meta["references"]["real_train_vs_test"]["fd"] + 1.0
    assert s["classes"] == 10
    assert BUNDLED_DIR.is_dir()
