"""Full disks and refused writes: the run ends 'failed' with a plain message naming its folder, what
was saved before stays intact and usable, and the run resumes once the problem is gone.

Most cases inject the error into one kind of write (reliability.failing_writes); two cases fill a
real, tiny tmpfs (skipped where this process may not mount one)."""

import errno
import os
import subprocess

import pytest

from playground import checkpoint
from playground.runs import Run
from playground.worker import train_run
from tests.support import reliability as rel


@pytest.mark.parametrize("kind", rel.OS_ERROR_KINDS)
def test_disk_full_at_each_kind_of_write(tmp_path, kind):
    result = rel.os_error_trial(tmp_path, kind, kind, errno.ENOSPC)
    assert result["problems"] == [], result
    assert "disk is full" in result["message"] and "resume" in result["message"]


@pytest.mark.parametrize("kind", ["grid", "checkpoint", "status"])
def test_permission_denied(tmp_path, kind):
    result = rel.os_error_trial(tmp_path, kind, kind, errno.EACCES)
    assert result["problems"] == [], result
    assert "permission denied" in result["message"]


def test_config_write_refused_on_resume(tmp_path):
    run = Run(tmp_path / "r")
    cfg = rel.tiny_config(epochs=1, **rel.FAST_CONFIG)
    run.create(cfg)
    assert train_run(run, echo=False) == 0
    with rel.failing_writes(run, "config") as failures:
        assert train_run(run, resume=True, epochs=2, echo=False) == 1
    assert failures == ["config.json"]
    st = run.read_status()
    assert st["state"] == "failed" and str(run.path) in st["error"] and "disk is full" in st["error"]
    assert run.read_config().epochs == 1  # the old config.json is whole
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    assert rel.check_finished(run, cfg.replace(epochs=2)) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs of our own; skipped where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder, leave: int = 0) -> int:
    """Fill the file system of ``folder`` until a write fails; then free ``leave`` bytes."""
    path = folder / "filler"
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    for small in (4096, 512, 1):
        try:
            with open(path, "ab", buffering=0) as f:
                while True:
                    f.write(b"\0" * small)
        except OSError:
            pass
    if leave:
        os.truncate(path, max(0, path.stat().st_size - leave))
    return path.stat().st_size


@pytest.mark.parametrize("leave", [0, 48 * 1024])
def test_a_really_full_disk(tiny_disk, leave):
    """leave=0: nothing can be written, not even a temporary file (the final status is written in
    place); leave=48 KiB: training goes on until some write of epoch 2 or 3 runs out of room."""
    run = Run(tiny_disk / "r")
    cfg = rel.tiny_config(epochs=1, **rel.FAST_CONFIG)
    run.create(cfg)
    assert train_run(run, echo=False) == 0
    grids = {e: run.sample_path(e).read_bytes() for e in run.sample_epochs()}
    _fill(tiny_disk, leave)
    assert train_run(run, resume=True, epochs=6, echo=False) == 1
    st = run.read_status()
    assert st["state"] == "failed", st
    assert "disk is full" in st["error"] and str(run.path) in st["error"]
    folder = rel.check_run_folder(run)
    assert folder["problems"] == [], folder
    assert rel.checkpoint_epoch(run) >= 1
    checkpoint.load(sorted(run.checkpoints_dir.glob("train_step_*.json"))[0].with_suffix(""))
    assert all(run.sample_path(e).read_bytes() == data for e, data in grids.items())
    (tiny_disk / "filler").unlink()
    assert train_run(run, resume=True, epochs=6, echo=False) == 0
    assert rel.check_finished(run, cfg.replace(epochs=6)) == []
