"""The command line as a user runs it: real subprocesses, exit codes, files written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--max-images", "32", "--batch-size", "8", "--g-filters", "4", "--d-filters", "4", "--z-dim", "8",
        "--log-every", "2", "--sample-count", "16", "--device", "cpu", "--data-source", "bundled"]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("args,needle", [
    (["train", "--lr-d", "-0.1"], "lr_d"),
    (["train", "--epochs", "lots"], "epochs"),
    (["train", "--dataset", "imagenet"], "dataset"),
    (["train", "--preset", "nope"], "unknown preset"),
    (["train", "--objective", "wgan"], "objective"),
    (["train", "--resume"], "--run-dir"),
    (["sample", "--run-dir", "/nonexistent", "--out", "x.png"], "not a run folder"),
    (["train", "--bogus-flag"], "unrecognized arguments"),
])
def test_bad_input_exits_2_without_traceback(args, needle):
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_train_resume_sample_round_trip(tmp_path):
    run_dir = tmp_path / "run"
    r = cli("train", "--preset", "dcgan-fashion", "--epochs", "1", "--run-dir", str(run_dir), "--quiet", *TINY)
    assert r.returncode == 0, r.stderr
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["epoch"] == 1
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    assert cfg["preset"] == "dcgan-fashion" and cfg["lr_g"] == 2e-4 and cfg["g_filters"] == 4

    r = cli("train", "--run-dir", str(run_dir), "--resume", "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((run_dir / "status.json").read_text())["epoch"] == 2
    assert (run_dir / "samples" / "epoch_002.png").exists()

    # resuming with other settings is refused, not silently ignored
    r = cli("train", "--run-dir", str(run_dir), "--resume", "--lr-d", "0.1")
    assert r.returncode == 2 and "only --epochs" in r.stderr

    out = tmp_path / "s.npy"
    r = cli("sample", "--run-dir", str(run_dir), "--n", "10", "--out", str(out))
    assert r.returncode == 0, r.stderr
    arr = np.load(out, allow_pickle=False)
    assert arr.shape == (10, 28, 28) and arr.dtype == np.uint8 and arr.std() > 0
    r = cli("sample", "--run-dir", str(run_dir), "--epoch", "1", "--n", "9", "--out", str(tmp_path / "g.png"))
    assert r.returncode == 0 and (tmp_path / "g.png").stat().st_size > 100
    r = cli("sample", "--run-dir", str(run_dir), "--epoch", "7", "--n", "9", "--out", str(tmp_path / "g.png"))
    assert r.returncode == 2 and "saved epochs" in r.stderr


def test_conditional_sample_by_class_and_toy_points(tmp_path):
    run_dir = tmp_path / "c"
    r = cli("train", "--preset", "cgan-mnist", "--epochs", "1", "--run-dir", str(run_dir), "--quiet",
            "--g-hidden", "16", "--d-hidden", "16", *TINY)
    assert r.returncode == 0, r.stderr
    r = cli("sample", "--run-dir", str(run_dir), "--class", "3", "--n", "4", "--out", str(tmp_path / "c.npy"))
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "c.npy").shape == (4, 28, 28)
    r = cli("sample", "--run-dir", str(run_dir), "--class", "12", "--n", "4", "--out", str(tmp_path / "c.npy"))
    assert r.returncode == 2 and "class must be between 0 and 9" in r.stderr

    toy = tmp_path / "toy"
    r = cli("train", "--preset", "ring-collapse", "--epochs", "1", "--max-images", "256", "--run-dir", str(toy),
            "--quiet", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    r = cli("sample", "--run-dir", str(toy), "--n", "50", "--out", str(tmp_path / "p.npy"))
    pts = np.load(tmp_path / "p.npy")
    assert r.returncode == 0 and pts.shape == (50, 2) and pts.dtype == np.float32


def test_presets_and_runs_listing(tmp_path):
    r = cli("presets")
    assert r.returncode == 0 and "classroom" in r.stdout and "report1-dcgan-fashion" in r.stdout
    run_dir = tmp_path / "runs" / "one"
    assert cli("train", "--preset", "gan-mnist", "--epochs", "1", "--run-dir", str(run_dir), "--quiet",
               "--g-hidden", "16", "--d-hidden", "16", *TINY).returncode == 0
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "config.json").write_text("{oops")
    r = cli("runs", "--root", str(tmp_path / "runs"), "--json")
    rows = {Path(x["run"]).name: x for x in json.loads(r.stdout)}
    assert rows["one"]["state"] == "finished" and rows["one"]["arch"] == "mlp"
    assert rows["broken"]["state"] == "unreadable"


def test_failed_data_gives_failed_status_and_exit_1(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    run_dir = tmp_path / "r"
    r = cli("train", "--dataset", "folder", "--data-dir", str(empty), "--run-dir", str(run_dir), "--quiet",
            "--epochs", "1", "--device", "cpu")
    assert r.returncode == 1
    st = json.loads((run_dir / "status.json").read_text())
    assert st["state"] == "failed" and str(empty) in st["error"]
