"""Server restarts and refreshes: workers outlive the process that started them, a fresh job
manager rebuilds everything from the run folders, queued jobs wait on disk, and the job limit holds
when many sessions press Start (or Resume) at the same moment.

Lock tests use a stand-in worker (``reliability.fake_python``: a process that only stays alive), so
they measure the job manager rather than a dozen PyTorch imports on a small CPU."""

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from playground import worker
from playground.jobs import JobManager
from playground.runs import JOB_SLOTS_ENV, LAUNCHER_ENV, Run
from tests.support import reliability as rel


@pytest.fixture
def fake(tmp_path):
    return rel.fake_python(tmp_path)


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "runs"
    yield path
    rel.stop_all(path)  # never leave a worker behind


def test_worker_survives_its_parent_and_a_new_manager_reattaches(root):
    cfg = rel.tiny_config(epochs=3, **rel.FAST_CONFIG)
    result = rel.parent_death_trial(root, cfg, "orphan")
    assert result["problems"] == [], result
    assert result["worker_pid"] != result["parent_pid"]
    assert result["seen_active_after_parent_died"]


def test_queued_jobs_wait_on_disk_and_start_after_a_restart(root, fake):
    result = rel.queue_restart_trial(root, fake)
    assert result["problems"] == [] and result["lost"] == 0, result
    assert rel.count_active(root) == 0  # the trial stopped its stand-in workers


def test_a_finishing_worker_starts_the_next_queued_job(root):
    """No manager call at all: the worker's exit hook (schedule_after_exit) starts the queue."""
    manager = JobManager(root, max_jobs=1)
    a = manager.submit(rel.tiny_config(epochs=1, **rel.FAST_CONFIG), "a")
    b = manager.submit(rel.tiny_config(epochs=1, seed=1, **rel.FAST_CONFIG), "b")
    assert b.read_status()["state"] == "queued"
    del manager
    assert rel.wait_until(lambda: b.read_status().get("state") in ("finished", "failed"), 300, 0.1)
    assert a.read_status()["state"] == "finished" and b.read_status()["state"] == "finished"
    assert rel.check_finished(b, rel.tiny_config(epochs=1, seed=1, **rel.FAST_CONFIG)) == []


@pytest.mark.parametrize("max_jobs", [1, 2])
def test_eight_simultaneous_starts_never_exceed_the_limit(root, fake, max_jobs):
    result = rel.concurrent_submit_trial(root, 8, max_jobs, fake)
    assert result["max_active"] <= max_jobs, result
    assert result["running"] == max_jobs and result["queued"] == 8 - max_jobs, result
    assert result["observations"] >= 50


def test_two_sessions_resuming_one_run_start_one_worker(root, fake):
    """Both pass the first check before either holds the lock; the second must see the first's
    worker under the lock (before the fix, with max_jobs=2, both started a worker on one run)."""
    result = rel.double_resume_trial(root, fake)
    assert result["outcomes"].count(True) == 1, result
    assert result["active"] == 1 and result["survived"], result


def test_manager_claims_the_run_in_its_own_file_and_tells_the_worker(root, tmp_path):
    """The manager passes its pid to the worker and claims the run (the worker's pid) in job.json;
    status.json is the worker's alone: the manager never writes it."""
    probe = tmp_path / "probe"
    probe.write_text(f"#!{sys.executable}\nimport os, time\n"
                     f"open({str(tmp_path / 'env')!r}, 'w').write(os.environ.get({LAUNCHER_ENV!r}, '') + ' '"
                     f" + os.environ.get({JOB_SLOTS_ENV!r}, ''))\n"
                     "time.sleep(60)\n")
    probe.chmod(0o755)
    run = JobManager(root, max_jobs=1, python=str(probe)).submit(rel.tiny_config(), "r")
    st = run.read_status()
    assert st["state"] == "running" and st["message"] == "starting" and run.state() == "running"
    assert not run.status_path.exists() and run.read_job()["state"] == "starting"
    assert run.read_job()["pid"] == st["pid"]
    assert rel.wait_until(lambda: (tmp_path / "env").exists() and (tmp_path / "env").read_text(), 10)
    assert (tmp_path / "env").read_text() == f"{os.getpid()} 1"   # and its job limit, for "auto" threads


def test_workers_of_the_manager_train_at_a_lower_priority(tmp_path):
    """A worker started by the job manager lowers its CPU priority, so the dashboard stays quick."""
    import subprocess

    code = ("import os, sys; from pathlib import Path; from playground import worker; "
            "from playground.runs import JOB_SLOTS_ENV, LAUNCHER_ENV, Run; before = os.nice(0); "
            "os.environ[LAUNCHER_ENV] = '999999999'; worker._lower_priority(); "
            "print(before, os.nice(0))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=str(Path(__file__).resolve().parent.parent))
    before, after = map(int, out.stdout.split())
    assert after == min(19, before + worker.WORKER_NICE), out


def test_the_job_file_and_the_worker_status_make_one_state(tmp_path):
    """What every reader sees: the worker's status, or the job manager's job.json when that is newer;
    a claimed worker that ends without a word leaves the run as it was (or interrupted if it never
    had a status)."""
    import subprocess

    run = Run(tmp_path / "r")
    run.create(rel.tiny_config(epochs=3))
    assert run.read_status()["state"] == "queued"                 # made, nothing written yet
    run.write_job("queued", epochs=3, queued_at=123.0)
    assert run.read_status()["state"] == "queued" and run.read_status()["queued_at"] == 123.0
    run.write_job("removed")
    assert run.state() == "stopped" and run.read_status()["message"] == "removed from the queue"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.write_job("starting", pid=child.pid, device="cpu")
        st = run.read_status()
        assert (st["state"], st["pid"], st["device"], run.state()) == ("running", child.pid, "cpu", "running")
        time.sleep(0.01)
        run.write_status(state="failed", epoch=0, step=0, error="bad", message="bad")   # the worker, later
        assert run.state() == "failed"
        time.sleep(0.01)
        run.write_job("starting", pid=child.pid)     # a resume claimed it again
        assert run.state() == "running"
    finally:
        child.kill()
        child.wait()
    assert run.state() == "failed"            # the claimed worker ended without a word: as it was
    run.status_path.unlink()
    assert run.state() == "interrupted"       # ... and a run that never had a status was interrupted
    run.job_path.write_text("{not json")
    assert run.state() == "queued"            # a damaged job file is no claim


def test_fast_failing_worker_keeps_its_own_status(root):
    """A worker that fails at once reports why; the manager's claim never lands on top of it."""
    cfg = rel.tiny_config(dataset="folder", data_dir=str(root / "missing"))
    run = JobManager(root, max_jobs=1).submit(cfg, "bad")
    assert rel.wait_until(lambda: run.read_status().get("state") == "failed", 120, 0.05)
    st = run.read_status()
    assert "does not exist" in st["error"] and run.state() == "failed"


def test_heartbeat_stays_fresh_during_a_slow_data_load(tmp_path, monkeypatch):
    """Loading a big image folder can take minutes; the run must not read as interrupted (and so
    be started a second time) while it loads."""
    monkeypatch.setattr(worker, "HEARTBEAT_EVERY_S", 0.2)
    real_load = worker.load_dataset
    beats = []

    def slow_load(*a, **k):
        for _ in range(6):
            beats.append(run.read_status()["heartbeat"])
            time.sleep(0.2)
        return real_load(*a, **k)

    monkeypatch.setattr(worker, "load_dataset", slow_load)
    run = Run(tmp_path / "r")
    run.create(rel.tiny_config(epochs=1, **rel.FAST_CONFIG))
    assert worker.train_run(run, echo=False) == 0
    assert len(set(beats)) >= 3, beats


def test_control_changes_from_many_sessions_are_never_lost(tmp_path):
    run = Run(tmp_path / "r")
    run.create(rel.tiny_config())

    def press(i):
        for k in range(15):
            run.write_control(lr_g=1e-4 * (i + 1))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run.read_control()["seq"] == 8 * 15
