"""Every pretrained run is an ordinary, complete run folder: it passes what a fresh run passes."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground import checkpoint, cli, quality, sampling
from playground.config import is_snapshot_epoch
from playground.runs import Run
from playground.worker import train_run

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
EXPECTED = ("gan-fashion-report1", "dcgan-fashion-report1", "cgan-mnist", "wgan-gp-fashion",
            "ring-collapse", "ring-healthy", "sgan-mnist", "infogan-mnist")
RUNS = sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file()) if PRETRAINED.is_dir() else []


def test_the_promised_runs_are_there():
    assert set(EXPECTED) <= set(RUNS), sorted(set(EXPECTED) - set(RUNS))


def test_no_stray_files_and_lean():
    total = sum(p.stat().st_size for p in PRETRAINED.rglob("*") if p.is_file())
    assert total < 100e6
    assert not list(PRETRAINED.rglob("*.tmp")) and not list(PRETRAINED.rglob("train_step_*"))
    assert not list(PRETRAINED.rglob(".worker.lock"))


@pytest.mark.parametrize("name", RUNS)
def test_run_folder_is_valid(name, tmp_path):
    check_run_folder(PRETRAINED / name, tmp_path)
    # the name says how the run was trained
    cfg = Run(PRETRAINED / name).read_config()
    assert "CPU" in cfg.name or cfg.is_toy


def test_the_semi_supervised_showcase_beats_its_labels_only_baseline():
    """The accuracy chart a class sees: D's test accuracy every epoch and the same network trained on
    the same 100 labels alone; the GAN's line ends above the baseline's."""
    records, _ = Run(PRETRAINED / "sgan-mnist").read_metrics(0)
    acc = [r for r in records if r.get("type") == "sgan"]
    assert [r["epoch"] for r in acc] == list(range(16))
    assert {r["labelled"] for r in acc} == {100} and len({r["baseline_accuracy"] for r in acc}) == 1
    assert acc[-1]["test_accuracy"] > acc[-1]["baseline_accuracy"] + 0.03
    assert acc[0]["test_accuracy"] < 0.3          # before training: near chance


def test_the_infogan_showcase_codes_pick_digits():
    """Without a label, most values of the categorical code draw one digit each (the project's MNIST
    classifier reads them): the purity is far above what codes unrelated to digits would give."""
    G, _, meta = sampling.load_snapshot(Run(PRETRAINED / "infogan-mnist"))
    assert G.label_role == "code" and G.num_classes == 10 and G.cont_codes == 2
    scorer = quality.scorer_for("mnist", 28, 1)
    out = quality.code_purity(G, scorer, n_per_value=200, seed=0)
    assert out["purity"] > 0.6 and out["classes_covered"] >= 6


def test_slimming_keeps_a_fresh_run_valid(tmp_path, tiny_cfg):
    spec = importlib.util.spec_from_file_location("slim", ROOT / "scripts" / "slim_pretrained.py")
    slim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slim)
    run = Run(tmp_path / "fresh")
    run.create(tiny_cfg(epochs=2, quality_samples=200))
    assert train_run(run, echo=False) == 0
    before = sampling.generate(sampling.load_snapshot(run, 2)[0], 8, seed=3)
    size = sum(p.stat().st_size for p in run.checkpoints_dir.iterdir())
    slim.slim_run(run.path)
    assert not list(run.checkpoints_dir.glob("train_step_*"))
    assert sum(p.stat().st_size for p in run.checkpoints_dir.iterdir()) < size / 3
    meta = checkpoint.load(run.snapshot_stem(2))[1]
    assert meta["dtype"] == "float16"
    after = sampling.generate(sampling.load_snapshot(run, 2)[0], 8, seed=3)
    assert (after - before).abs().max() < slim.MAX_ABS_DIFF
    check_run_folder(run.path, tmp_path)


def check_run_folder(path: Path, tmp_path: Path):
    """What a finished run folder must pass, fresh or shipped."""
    run = Run(path)
    cfg = run.read_config()                      # parses and validates like a fresh run's
    doc = run.read_config_doc()
    assert doc["data"]["n"] > 0 and doc["model"]["arch"] == cfg.arch
    st = run.read_status()
    assert st["state"] == "finished" and st["epoch"] == cfg.epochs
    records, _ = run.read_metrics()
    assert records and all(isinstance(r, dict) and "type" in r for r in records)
    raw = run.metrics_path.read_text().splitlines()
    assert len(raw) == len(records)                # every line parses
    epochs = [r for r in records if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, cfg.epochs + 1))
    # a grid for every epoch, 0 included
    assert run.sample_epochs() == list(range(cfg.epochs + 1))
    for e in (0, cfg.epochs):
        Image.open(run.sample_path(e)).verify()
    # the quality figure per epoch, with numbers where there is a classifier or point modes
    q = {r["epoch"]: r["quality"] for r in records if "quality" in r}
    assert sorted(q) == list(range(cfg.epochs + 1))
    if (cfg.dataset in quality.CLASSIFIER_DATASETS or cfg.dataset in ("ring", "grid")) and cfg.quality_samples:
        assert all(v["available"] for v in q.values())
    # snapshots where the latent explorer expects them, loadable, and samples that work
    want = [e for e in range(cfg.epochs + 1) if e == 0 or is_snapshot_epoch(cfg.snapshot_schedule, e, cfg.epochs)]
    assert run.snapshot_epochs() == want
    for e in (1, 5, 10, 25, 50, 100):
        if e <= cfg.epochs:
            assert e in want
    for e in want:
        tensors, meta = checkpoint.load(run.snapshot_stem(e))
        assert meta["kind"] == "snapshot" and meta["model"] == doc["model"]
    G, D, meta = sampling.load_snapshot(run, cfg.epochs, with_d=cfg.is_toy)
    x = sampling.generate(G, 8, seed=1)
    assert torch.isfinite(x).all()
    out = tmp_path / "s.npy"
    assert cli.main(["sample", "--run-dir", str(run.path), "--n", "8", "--out", str(out)]) == 0
    arr = np.load(out, allow_pickle=False)
    assert arr.shape[0] == 8


def test_the_conditional_showcase_draws_varied_digits_in_each_row():
    """Its rows must not repeat one digit: the samples of one class differ about as much as
    the classes differ from each other (the collapsed MLP run had 0.36; a collapsed row is near 0)."""
    run = Run(PRETRAINED / "cgan-mnist")
    records, _ = run.read_metrics(0)
    last = [r for r in records if r["type"] == "epoch"][-1]
    assert last["class_diversity"] > 0.6, last
    assert last["quality"]["classes"] == 10 and last["quality"]["fd"] < 20, last
