"""Real (tiny) training runs on the CPU: run-folder contract, resume, live changes, failures."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from playground import checkpoint, sampling
from playground.config import ARCH_NAMES, OBJECTIVE_NAMES
from playground.runs import Run, effective_state
from playground.worker import train_run


def _train(tmp_path, cfg, name="run", **kw):
    run = Run(tmp_path / name)
    run.create(cfg)
    code = train_run(run, echo=False, **kw)
    return run, code


def test_run_folder_is_complete(tmp_path, tiny_cfg):
    run, code = _train(tmp_path, tiny_cfg(epochs=2))
    assert code == 0
    st = run.read_status()
    assert st["state"] == "finished" and st["epoch"] == 2 and st["step"] == 10
    doc = run.read_config_doc()
    assert doc["format_version"] == 1 and doc["data"]["n"] == 40 and doc["model"]["arch"] == "dcgan"
    assert run.sample_epochs() == [0, 1, 2]
    img = Image.open(run.sample_path(0))
    assert img.size[0] > 4 * 28
    records, _ = run.read_metrics()
    steps = [r for r in records if r["type"] == "step"]
    epochs = [r for r in records if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert [r["step"] for r in steps] == [2, 4, 6, 8, 10]
    for r in steps + epochs:
        for k in ("loss_d", "loss_g", "d_real", "d_fake", "images_per_s"):
            assert r[k] is not None and np.isfinite(r[k]), (k, r)
        assert 0.0 <= r["d_real"] <= 1.0 and 0.0 <= r["d_fake"] <= 1.0
    assert all(r["grad_norm_d"] > 0 for r in steps)
    assert all(r["epoch_seconds"] > 0 for r in epochs)
    # snapshots at epoch 0, 1 and 2; newest train checkpoint loads and matches the run's model
    assert run.snapshot_epochs() == [0, 1, 2]
    tensors, meta = checkpoint.load(sorted(run.checkpoints_dir.glob("train_step_*.json"))[-1].with_suffix(""))
    assert meta["kind"] == "train" and meta["epoch"] == 2 and meta["model"] == doc["model"]
    assert any(k.startswith("opt_d.") for k in tensors)
    assert "Epoch 2/2" in run.log_path.read_text()


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
@pytest.mark.parametrize("conditional", [False, True])
def test_every_combination_trains(tmp_path, tiny_cfg, arch, objective, conditional):
    over = dict(arch=arch, objective=objective, conditional=conditional, max_images=24, log_every=1,
                d_steps=2 if objective == "wgan-gp" else 1, snapshot_schedule="1")
    if arch == "toy":
        over.update(dataset="ring", max_images=32)
    run, code = _train(tmp_path, tiny_cfg(**over))
    assert code == 0, run.read_status()
    records, _ = run.read_metrics()
    last = [r for r in records if r["type"] == "epoch"][-1]
    assert np.isfinite(last["loss_d"])
    if objective in ("hinge", "wgan-gp"):
        assert last["d_real"] is None  # a critic score is not a probability; never shown as one
    G, D, meta = sampling.load_snapshot(run, 1, with_d=arch == "toy")
    out = sampling.generate(G, 4, label=1 if conditional else None)
    assert out.shape[0] == 4 and torch.isfinite(out).all()
    if arch == "toy":
        arrays = np.load(run.sample_path(1, "npz"), allow_pickle=False)
        assert arrays["d_surface"].shape == (sampling.TOY_GRID, sampling.TOY_GRID)
        assert arrays["fake"].shape == (512, 2) and D is not None


def test_conditional_grid_has_one_row_per_class(tmp_path, tiny_cfg):
    run, code = _train(tmp_path, tiny_cfg(arch="mlp", conditional=True))
    assert code == 0
    img = np.asarray(Image.open(run.sample_path(1)))
    pad = sampling.GRID_PAD
    assert img.shape[0] == 10 * (28 + pad) + pad and img.shape[1] == 8 * (28 + pad) + pad


def test_resume_continues_where_it_stopped(tmp_path, tiny_cfg):
    run, code = _train(tmp_path, tiny_cfg(epochs=1))
    assert code == 0
    before, _ = run.read_metrics()
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    after, _ = run.read_metrics()
    assert after[: len(before)] == before  # appended, nothing rewritten
    epochs = [r["epoch"] for r in after if r["type"] == "epoch"]
    assert epochs == [1, 2]
    steps = [r["step"] for r in after if r["type"] == "step"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    assert run.read_status()["epoch"] == 2 and run.read_config().epochs == 2
    assert run.sample_epochs() == [0, 1, 2]


def test_resume_is_exact(tmp_path, tiny_cfg):
    """Two epochs straight equal one epoch + resume + one epoch (same RNG, optimizer state)."""
    cfg = tiny_cfg(epochs=2, arch="mlp", dropout=0.0)
    straight, _ = _train(tmp_path, cfg, "straight")
    split, _ = _train(tmp_path, cfg.replace(epochs=1), "split")
    train_run(split, resume=True, epochs=2, echo=False)
    a = [r["loss_d"] for r in straight.read_metrics()[0] if r["type"] == "epoch"]
    b = [r["loss_d"] for r in split.read_metrics()[0] if r["type"] == "epoch"]
    assert a == pytest.approx(b, rel=1e-5)


def test_resume_drops_the_epoch_in_flight(tmp_path, tiny_cfg):
    run, _ = _train(tmp_path, tiny_cfg(epochs=1))
    # a crash during epoch 2: step lines, a grid and a torn line were written, no checkpoint
    with open(run.metrics_path, "a") as f:
        f.write(json.dumps({"type": "step", "epoch": 2, "step": 7, "loss_d": 1.0}) + "\n")
        f.write('{"type": "step", "epo')
    run.sample_path(2).write_bytes(b"partial")
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    records, _ = run.read_metrics()
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1, 2]
    assert sum(1 for r in records if r["type"] == "step" and r["step"] == 7) == 0
    Image.open(run.sample_path(2)).verify()


def test_same_seed_same_first_grid(tmp_path, tiny_cfg):
    a, _ = _train(tmp_path, tiny_cfg(), "a")
    b, _ = _train(tmp_path, tiny_cfg(), "b")
    c, _ = _train(tmp_path, tiny_cfg(seed=1), "c")
    assert a.sample_path(0).read_bytes() == b.sample_path(0).read_bytes()
    assert a.sample_path(0).read_bytes() != c.sample_path(0).read_bytes()


def test_live_learning_rate_change_takes_effect(tmp_path, tiny_cfg):
    cfg = tiny_cfg(epochs=2)
    run = Run(tmp_path / "live")
    run.create(cfg)
    run.write_control(lr_d=1e-3, d_steps=2)  # picked up at the first control poll
    assert train_run(run, echo=False) == 0
    records, _ = run.read_metrics()
    changes = [r for r in records if r["type"] == "change"]
    assert {c["field"]: (c["old"], c["new"]) for c in changes} == {"lr_d": (cfg.lr_d, 1e-3), "d_steps": (1, 2)}
    assert run.read_status()["live"]["lr_d"] == 1e-3
    _, meta = checkpoint.load(sorted(run.checkpoints_dir.glob("train_step_*.json"))[-1].with_suffix(""))
    assert meta["opt_d"]["param_groups"][0]["lr"] == 1e-3
    assert meta["opt_g"]["param_groups"][0]["lr"] == cfg.lr_g


def test_bad_live_change_is_ignored(tmp_path, tiny_cfg):
    run = Run(tmp_path / "live")
    run.create(tiny_cfg())
    run.write_control(lr_d=-5)
    assert train_run(run, echo=False) == 0
    assert not [r for r in run.read_metrics()[0] if r["type"] == "change"]
    assert "Ignored a live change of lr_d" in run.log_path.read_text()


def test_stop_request_saves_and_stops(tmp_path, tiny_cfg):
    run = Run(tmp_path / "stop")
    run.create(tiny_cfg(epochs=3))
    run.write_control(state="stopped")
    assert train_run(run, echo=False) == 0
    st = run.read_status()
    assert st["state"] == "stopped" and st["epoch"] == 0
    assert list(run.checkpoints_dir.glob("train_step_*.safetensors"))  # the weights were kept


def test_nan_loss_stops_run(tmp_path, tiny_cfg, monkeypatch):
    from playground import losses
    real = losses.d_loss
    monkeypatch.setattr(losses, "d_loss", lambda *a, **k: real(*a, **k) * float("nan"))
    run, code = _train(tmp_path, tiny_cfg(epochs=2))
    st = run.read_status()
    assert code == 1 and st["state"] == "failed"
    assert "NaN or infinite" in st["error"] and "learning rate" in st["error"]
    assert run.sample_path(0).exists()  # what was saved before stays


def test_truncated_checkpoint_is_reported(tmp_path, tiny_cfg):
    run, _ = _train(tmp_path, tiny_cfg())
    stem = sorted(run.checkpoints_dir.glob("snapshot_epoch_*.json"))[-1].with_suffix("")
    data = stem.with_suffix(".safetensors").read_bytes()
    stem.with_suffix(".safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="truncated"):
        checkpoint.load(stem)
    stem.with_suffix(".json").write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="not valid JSON"):
        checkpoint.load(stem)
    stem.with_suffix(".json").write_text('{"foreign": true}')
    with pytest.raises(checkpoint.CheckpointError, match="not a GAN Playground"):
        checkpoint.load(stem)


def test_resume_skips_a_damaged_newest_checkpoint(tmp_path, tiny_cfg):
    run, _ = _train(tmp_path, tiny_cfg(epochs=2))
    newest = sorted(run.checkpoints_dir.glob("train_step_*.safetensors"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    assert train_run(run, resume=True, epochs=3, echo=False) == 0
    assert "Skipping checkpoint" in run.log_path.read_text()
    epochs = [r["epoch"] for r in run.read_metrics()[0] if r["type"] == "epoch"]
    assert epochs == [1, 2, 3]


def test_edited_config_is_rejected(tmp_path, tiny_cfg, capfd):
    """A resume refused over an edited config.json exits 2, says why, and changes no file."""
    run, _ = _train(tmp_path, tiny_cfg())
    doc = json.loads(run.config_path.read_text())
    doc["config"]["g_filters"] = 8
    run.config_path.write_text(json.dumps(doc))
    before = {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    capfd.readouterr()
    assert train_run(run, resume=True, epochs=2, echo=False) == 2
    err = capfd.readouterr().err
    assert "edited" in err and "g_filters: 4" in err and "Traceback" not in err
    doc["config"]["lr_d"] = -1
    run.config_path.write_text(json.dumps(doc))
    before[run.config_path] = run.config_path.read_bytes()
    assert train_run(run, resume=True, epochs=2, echo=False) == 2
    assert "lr_d" in capfd.readouterr().err
    assert {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()} == before


def test_disk_full_fails_cleanly_and_keeps_checkpoint(tmp_path, tiny_cfg, monkeypatch):
    import errno

    from playground import runs as runs_mod
    run = Run(tmp_path / "full")
    run.create(tiny_cfg(epochs=3))
    real = runs_mod.atomic_write_bytes
    calls = {"n": 0}

    def flaky(path, data, **kw):
        if "train_step_" in str(path) and str(path).endswith(".safetensors"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, **kw)

    monkeypatch.setattr(runs_mod, "atomic_write_bytes", flaky)
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", flaky)
    assert train_run(run, echo=False) == 1
    st = run.read_status()
    assert st["state"] == "failed" and "disk is full" in st["error"] and str(run.path) in st["error"]
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", real)
    stems = sorted(run.checkpoints_dir.glob("train_step_*.json"))
    assert len(stems) == 1
    checkpoint.load(stems[0].with_suffix(""))  # the epoch-1 checkpoint is intact
    assert train_run(run, resume=True, echo=False) == 0
    assert [r["epoch"] for r in run.read_metrics()[0] if r["type"] == "epoch"] == [1, 2, 3]


def test_dead_worker_reads_as_interrupted():
    assert effective_state({"state": "running", "pid": 2**22 + 12345, "heartbeat": 0}) == "interrupted"
    import os
    import time
    assert effective_state({"state": "running", "pid": os.getpid(), "heartbeat": time.time()}) == "running"
    assert effective_state({"state": "finished"}) == "finished"


def test_pause_and_unpause_through_the_control_file(tmp_path, tiny_cfg):
    import threading
    import time

    run = Run(tmp_path / "pause")
    run.create(tiny_cfg(epochs=2, max_images=200))
    run.write_control(state="paused")  # paused before the first step
    t = threading.Thread(target=train_run, args=(run,), kwargs={"echo": False})
    t.start()
    try:
        deadline = time.time() + 60
        while run.read_status().get("state") != "paused" and time.time() < deadline:
            time.sleep(0.05)
        st = run.read_status()
        assert st["state"] == "paused" and st["step"] == 0
        time.sleep(0.5)
        assert run.read_status()["step"] == 0  # nothing trains while paused
    finally:
        run.write_control(state="running")
        t.join(120)
    assert run.read_status()["state"] == "finished"
    assert "Paused." in run.log_path.read_text() and "Resumed." in run.log_path.read_text()
