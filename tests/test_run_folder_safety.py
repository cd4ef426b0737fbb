"""Nothing lost, nothing escapes: refused resumes change no file, links out of a run folder are never
followed, special files are never read, edited files and bad flags exit 2 with a plain message.

The cases come from tests/support/hostile_files.py, which the reliability report runs in full (section 6);
here every command runs in this process (``inline``), so each case costs a fraction of a second.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from playground.jobs import JobManager
from playground.runs import (Run, RunError, UnsafeEntry, atomic_write_bytes, read_bytes, read_json,
                             unlink_entry)
from playground.worker import train_run
from tests.support import hostile_files as H
from tests.support import reliability as rel


@pytest.fixture(autouse=True)
def nothing_hangs():
    """A FIFO opened for reading blocks until someone writes: fail the test instead of hanging."""
    def bail(signum, frame):
        raise TimeoutError("the command did not end: something blocked or read without end")
    old = signal.signal(signal.SIGALRM, bail)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return H.trained_run(tmp_path_factory.mktemp("template") / "run", epochs=3)


def _ok(verdict):
    assert verdict["survived"], (verdict["problems"], verdict["message"])


# ----------------------------------------------------------------------------- resume never destroys
@pytest.mark.parametrize("case", list(H.RESUME_REFUSALS))
def test_refused_resume_exits_2_and_leaves_every_file_as_it_was(tmp_path, template, case):
    _ok(H.resume_refusal_trial(tmp_path, template, case, inline=True))


def test_pretrained_like_run_is_refused_with_what_to_do(tmp_path, template):
    r = H.resume_refusal_trial(tmp_path, template, "training checkpoints slimmed away (as in pretrained/)", inline=True)
    assert "no training checkpoint" in r["message"] and "config.json" in r["message"]


def test_job_manager_refuses_the_same_resume_before_starting_anything(tmp_path, template):
    run = H.copy_run(template, tmp_path / "runs" / "slim")
    for p in run.checkpoints_dir.glob("train_step_*"):
        p.unlink()
    before = H.record(run.path)
    with pytest.raises(RunError, match="start a new run from this run's settings"):
        JobManager(tmp_path / "runs").resume(run, epochs=5)
    assert H.changes(before, H.record(run.path)) == []


def test_refused_resume_leaves_the_status_as_it_was(tmp_path, template, capfd):
    """The dashboard's path: the manager claims the run in job.json (the worker's pid) and the worker
    then refuses; status.json was never touched, and once the claim lapses the run reads as before."""
    run = H.copy_run(template, tmp_path / "r")
    for p in run.checkpoints_dir.glob("train_step_*"):
        p.unlink()
    original = run.status_path.read_bytes()
    state = run.state()
    run.write_job("starting", pid=os.getpid())
    assert run.state() == "running"
    assert train_run(run, resume=True, epochs=5, echo=False) == 2
    assert run.status_path.read_bytes() == original
    assert "start a new run" in capfd.readouterr().err
    run.job_path.unlink()              # (this test's process is the "worker": its claim cannot lapse)
    assert run.state() == state


def test_one_epoch_behind_is_still_resumed(tmp_path, template):
    """The crash window (an epoch's grid saved, its checkpoint not): resume trains that epoch again."""
    run = H.copy_run(template, tmp_path / "r")
    H._drop(H.train_stems(run)[-1:])
    assert train_run(run, resume=True, epochs=4, echo=False) == 0
    assert rel.epoch_lines(run) == [1, 2, 3, 4] and run.sample_epochs() == [0, 1, 2, 3, 4]


BAD_METRICS_LINES = [
    {"type": "epoch", "epoch": "x", "step": 1},                    # the example
    {"type": "step", "epoch": 1, "step": 3, "loss_d": "x", "loss_g": {"a": 1}},
    {"type": "epoch", "epoch": 2, "step": 8, "loss_d": 1.0, "quality": "q"},   # the monitor reads quality
    {"type": "event", "epoch": 2, "step": 8, "kind": 5, "message": ["m"]},
    {"type": "change", "epoch": 2, "step": 8, "field": "lr_d", "old": "a", "new": "b"},
    {"type": ["step"], "epoch": 10**30},
]


def test_bad_metrics_lines_are_skipped_and_reported(tmp_path, template):
    run = H.copy_run(template, tmp_path / "r")
    n = sum(1 for _ in open(run.metrics_path))
    with open(run.metrics_path, "a") as f:
        f.write("".join(json.dumps(b) + "\n" for b in BAD_METRICS_LINES))
    assert len(run.read_metrics()[0]) == len(H.copy_run(template, tmp_path / "c").read_metrics()[0])
    assert run.bad_metrics_lines() == list(range(n + 1, n + 1 + len(BAD_METRICS_LINES)))
    assert train_run(run, resume=True, epochs=4, echo=False) == 0
    assert f"skipped {len(BAD_METRICS_LINES)} line(s) that are not valid records" in run.log_path.read_text()
    assert rel.epoch_lines(run) == [1, 2, 3, 4] and run.bad_metrics_lines() == []


@pytest.mark.parametrize("edit", [{"epoch": "x"}, {"heartbeat": "soon"}, {"started": [1]}, {"state": 3},
                                  {"epochs": 10**30}, {"message": {"a": 1}}])
def test_status_with_a_field_of_the_wrong_type_reads_as_failed(tmp_path, template, edit):
    run = H.copy_run(template, tmp_path / "r")
    run.status_path.write_text(json.dumps({**json.loads(run.status_path.read_text()), **edit}))
    st = run.read_status()
    assert st["state"] == "failed" and next(iter(edit)) in st["error"] and isinstance(st["epoch"], int)
    r = H.run_cli(["runs", "--root", str(tmp_path), "--json"], inline=True)
    assert r["exit"] == 0 and json.loads(r["stdout"])[0]["state"] == "failed"


def test_control_file_edited_into_nonsense_does_not_end_the_run(tmp_path, template):
    run = H.copy_run(template, tmp_path / "r")
    run.control_path.write_text(json.dumps({"seq": "abc", "state": "running", "lr_d": "fast", "d_steps": [1]}))
    assert train_run(run, resume=True, epochs=4, echo=False) == 0
    assert run.read_status()["state"] == "finished" and rel.epoch_lines(run) == [1, 2, 3, 4]
    assert "Ignored a live change of lr_d" in run.log_path.read_text()
    assert run.write_control(state="paused")["seq"] == 1   # the counter starts again from a number


# ----------------------------------------------------------------------------- nothing escapes
LINK_CASES = [(e, c) for e in H.LINKED_ENTRIES for c in ("resume", "sample", "start")
              if not (c == "start" and "/" in e)]   # a new run has no grids or snapshots yet


@pytest.mark.parametrize("entry,command", LINK_CASES)
def test_links_out_of_the_run_are_never_followed(tmp_path, template, entry, command):
    _ok(H.link_trial(tmp_path, template, entry, command, inline=True))


def test_every_writer_refuses_a_linked_folder_and_names_it(tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    run_dir.mkdir()
    outside.mkdir()
    (outside / "epoch_001.png").write_bytes(b"not the run's")
    (run_dir / "samples").symlink_to(outside)
    before = H.record(outside)
    with pytest.raises(UnsafeEntry, match="samples is a symbolic link"):
        atomic_write_bytes(run_dir / "samples" / "epoch_001.png", b"x", root=run_dir)
    with pytest.raises(UnsafeEntry, match="samples is a symbolic link"):
        unlink_entry(run_dir / "samples" / "epoch_001.png", root=run_dir)
    assert Run(run_dir).sample_epochs() == []
    assert H.changes(before, H.record(outside)) == []


# ----------------------------------------------------------------------------- reads are bounded and typed
@pytest.mark.parametrize("entry", H.SPECIAL_ENTRIES)
@pytest.mark.parametrize("kind", H.SPECIAL_KINDS)
@pytest.mark.parametrize("command", ["resume", "sample", "runs"])
def test_special_files_are_never_read(tmp_path, template, entry, kind, command):
    _ok(H.special_trial(tmp_path, template, entry, kind, command, inline=True))


def test_reads_stop_at_their_limit_whatever_stat_says(tmp_path):
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    with pytest.raises(UnsafeEntry, match="symbolic link"):
        read_json(tmp_path / "zero.json")
    (tmp_path / "big.json").write_bytes(b" " * (2 << 20) + b"{}")
    with pytest.raises(RunError, match="larger than"):
        read_json(tmp_path / "big.json")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeEntry, match="FIFO"):
        read_bytes(tmp_path / "fifo", 10)


def test_fifo_in_an_image_folder_is_skipped_with_a_count(tmp_path):
    _ok(H.fifo_in_images_trial(tmp_path, inline=True))


def test_sigterm_stops_a_worker_that_is_loading_data(tmp_path):
    """Loading data can block (a slow network folder, a FIFO swapped in): SIGTERM must still end it."""
    run = Run(tmp_path / "r")
    run.create(H.small_config(epochs=1))
    script = ("import sys, time\nimport playground.worker as w\n"
              "w.load_dataset = lambda *a, **k: time.sleep(600)\n"
              "from playground.runs import Run\nsys.exit(w.train_run(Run(sys.argv[1]), echo=False))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(run.path)], cwd=str(H.PROJECT_ROOT),
                            env=rel.worker_env(), stderr=subprocess.PIPE, text=True)
    assert rel.wait_until(lambda: run.read_status().get("message") == "loading data", 240, 0.05, proc)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert time.monotonic() - t0 < 10
    st = run.read_status()
    assert st["state"] == "stopped" and "before training started" in st["message"]
    assert "Traceback" not in proc.stderr.read()


# ----------------------------------------------------------------------------- edited files, bad flags
@pytest.mark.parametrize("case", ["sample --out into an unwritable place", "sample --seed 99999999999999999999",
                                  "train --device cuda:abc", "train --arch mlp with 8 hidden layers of 8192",
                                  "train --config nested 100,000 deep", "train --lr-d fast"])
def test_bad_flags_exit_2_naming_the_flag_and_write_nothing(tmp_path, template, case):
    verdict = H.flag_trial(tmp_path, template, case, inline=True)
    _ok(verdict)
    assert not (tmp_path / "flag-runs").exists() or not any((tmp_path / "flag-runs").iterdir())


@pytest.mark.parametrize("case", list(H.EDITED_SNAPSHOTS))
def test_edited_snapshot_is_refused_before_anything_is_built(tmp_path, template, case):
    _ok(H.edited_snapshot_trial(tmp_path, template, case, inline=True))


def test_huge_layers_are_refused_with_the_estimated_memory(tmp_path, template):
    verdict = H.flag_trial(tmp_path, template, "train --arch mlp with 8 hidden layers of 8192", inline=True)
    assert "GB" in verdict["message"] and "million weights" in verdict["message"]


def test_refused_upload_exits_2(tmp_path):
    import zipfile
    bad = tmp_path / "images.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("ok.png", b"x")
        z.writestr("../escape.png", b"x")
    r = H.run_cli(["train", "--dataset", "folder", "--data-dir", str(bad), "--run-dir", str(tmp_path / "r"),
                   "--epochs", "1", "--device", "cpu", "--quiet"], inline=True)
    assert r["exit"] == 2 and "Traceback" not in r["stderr"]
    assert "../escape.png" in Run(tmp_path / "r").read_status()["error"]


def test_full_disk_ends_failed_with_the_plain_message_and_no_traceback(tmp_path, capfd):
    run = Run(tmp_path / "full")
    run.create(rel.tiny_config(epochs=3, **rel.FAST_CONFIG))
    with rel.failing_writes(run, "checkpoint", errno.ENOSPC):
        assert train_run(run, echo=True) == 1
    err = capfd.readouterr().err
    st = run.read_status()
    assert st["state"] == "failed" and "disk is full" in st["error"] and "disk is full" in err
    assert "Traceback" not in err
    assert "Traceback" in run.log_path.read_text()   # kept for whoever debugs it
