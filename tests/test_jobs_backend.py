"""The job manager's backend seam without a cluster: choosing the backend, the job.json records of a
cluster job and how readers merge them, a worker on another machine judged by its heartbeat, and the
app (core, CLI, the local queue) running with Ray absent. tests/test_ray_backend.py runs a real Ray."""

import json
import os
import subprocess
import sys
import time

import pytest

from playground import jobs
from playground.cluster import ClusterUnavailable, parse_resources
from playground.i18n import Message, msg
from playground.jobs import JobManager, backend_name, job_backend, schedule_after_exit
from playground.runs import HOST, Run, effective_state
from tests.support import reliability as rel


class FakeCluster:
    """A stand-in for playground.cluster.RayBackend: records what the manager asks of it and
    answers with the Ray job statuses a test sets."""

    def __init__(self):
        self.submitted, self.stopped, self.statuses, self.refuse = [], [], {}, False
        self.n = 0

    def submission_id(self, run):
        self.n += 1
        return f"sid-{run.id}-{self.n}"

    def submit(self, run, sid, *, device, threads, resume=False, epochs=None):
        if self.refuse:
            raise ClusterUnavailable(msg("the training cluster cannot be reached; try again later "
                                         "or ask the lab's administrator"))
        self.submitted.append((run.id, sid, resume, epochs))
        self.statuses[sid] = "PENDING"
        return {"device": "cpu", "resources": {"entrypoint_num_cpus": 1}}

    def status(self, sid):
        return self.statuses.get(sid, "LOST")

    def stop(self, sid):
        self.stopped.append(sid)
        return True


def toy():
    return rel.tiny_config(dataset="ring", arch="toy", max_images=64, batch_size=16, z_dim=2, g_hidden=(16, 16),
                           d_hidden=(16, 16), epochs=2, quality_samples=0)


@pytest.fixture
def ray_manager(tmp_path):
    return JobManager(tmp_path / "runs", backend="ray", cluster=FakeCluster())


def test_the_backend_comes_from_the_flag_then_the_environment_and_defaults_to_local(monkeypatch):
    monkeypatch.delenv(jobs.BACKEND_ENV, raising=False)
    assert backend_name() == "local" and backend_name("ray") == "ray" and backend_name(" Ray ") == "ray"
    monkeypatch.setenv(jobs.BACKEND_ENV, "ray")
    assert backend_name() == "ray" and backend_name("local") == "local"
    monkeypatch.setenv(jobs.BACKEND_ENV, "slurm")
    with pytest.raises(ValueError, match="unknown job backend 'slurm': use local or ray"):
        backend_name()


def test_the_cli_refuses_an_unknown_backend_with_status_2(tmp_path):
    env = {**rel.worker_env(), "GAN_PLAYGROUND_BACKEND": "kubernetes"}
    out = subprocess.run([sys.executable, "-m", "playground", "jobs", "list", "--runs-root", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown job backend 'kubernetes'" in out.stderr, out.stderr


def test_custom_resources_are_checked(monkeypatch):
    assert parse_resources('{"training_slot": 1}') == {"training_slot": 1.0}
    assert parse_resources("") == {}
    for bad in ("training_slot", "[1]", '{"training_slot": 0}', '{"GPU": 1}', '{"slot": true}'):
        with pytest.raises(ValueError, match="GAN_PLAYGROUND_RAY_RESOURCES"):
            parse_resources(bad)


def test_a_cluster_job_is_recorded_and_the_run_reads_queued_until_its_worker_writes(ray_manager):
    run = ray_manager.submit(toy(), "a")
    job = run.read_job()
    assert job["state"] == "queued" and job["backend"] == "ray" and job["submission_id"] == "sid-a-1"
    assert ray_manager.cluster.submitted == [("a", "sid-a-1", False, None)]
    assert run.state() == "queued" and job_backend(run) == "ray"
    assert ray_manager.queued() == [run]
    assert JobManager(ray_manager.root, backend="local").queued() == []   # never started by the local queue
    assert ray_manager.schedule() == []


def test_a_refused_submission_leaves_no_folder_and_a_refused_resume_keeps_the_record(ray_manager):
    ray_manager.cluster.refuse = True
    with pytest.raises(ClusterUnavailable) as e:
        ray_manager.submit(toy(), "nowhere")
    assert isinstance(e.value.args[0], Message) and not (ray_manager.root / "nowhere").exists()

    ray_manager.cluster.refuse = False
    run = ray_manager.submit(toy(), "b")
    ray_manager.cluster.statuses[run.read_job()["submission_id"]] = "FAILED"
    assert [r.id for r in ray_manager.sync(force=True)] == ["b"]
    before = run.job_path.read_bytes()
    ray_manager.cluster.refuse = True
    with pytest.raises(ClusterUnavailable):
        ray_manager.resume(run)
    assert run.job_path.read_bytes() == before and run.state() == "interrupted"


@pytest.mark.parametrize("ray_status", ["FAILED", "STOPPED", "SUCCEEDED", "LOST"])
def test_a_live_run_whose_cluster_job_ended_reads_interrupted_and_resume_resubmits(ray_manager, ray_status):
    run = ray_manager.submit(toy(), "c")
    sid = run.read_job()["submission_id"]
    # the worker started on another machine and wrote its status (its pid means nothing here)
    run.write_status(state="running", epoch=1, step=4, pid=1, host="another-node", heartbeat=time.time())
    assert run.state() == "running"
    ray_manager.cluster.statuses[sid] = "RUNNING"
    assert ray_manager.sync(force=True) == [] and run.state() == "running"
    ray_manager.cluster.statuses[sid] = "PENDING" if ray_status == "LOST" else ray_status
    if ray_status == "LOST":
        del ray_manager.cluster.statuses[sid]   # the cluster no longer knows the job
    assert [r.id for r in ray_manager.sync(force=True)] == ["c"]
    job = run.read_job()
    assert job["state"] == "lost" and job["ray_status"] == ray_status and job["submission_id"] == sid
    status = run.read_status()
    assert status["state"] == "interrupted" and run.state() == "interrupted"
    assert "resume" in status["message"] and "http" not in status["message"]

    assert ray_manager.resume(run, epochs=3) is True
    assert ray_manager.cluster.submitted[-1] == ("c", "sid-c-2", True, 3)
    assert run.read_job()["resume"] is True and run.state() == "queued"
    # a worker that writes after the record is what readers see again
    time.sleep(0.01)
    run.write_status(state="running", epoch=1, step=4, pid=1, host="another-node", heartbeat=time.time())
    assert run.state() == "running"


def test_a_run_that_ended_by_itself_is_never_marked_lost(ray_manager):
    run = ray_manager.submit(toy(), "d")
    run.write_status(state="finished", epoch=2, step=8, pid=1, host="another-node", heartbeat=time.time())
    ray_manager.cluster.statuses[run.read_job()["submission_id"]] = "SUCCEEDED"
    assert ray_manager.sync(force=True) == [] and run.state() == "finished"


def test_sync_asks_the_cluster_at_most_every_few_seconds_unless_forced(ray_manager):
    run = ray_manager.submit(toy(), "e")
    ray_manager.sync(force=True)
    ray_manager.cluster.statuses[run.read_job()["submission_id"]] = "FAILED"
    assert ray_manager.sync() == []            # asked a moment ago
    assert len(ray_manager.sync(force=True)) == 1
    assert JobManager(ray_manager.root, backend="local").sync(force=True) == []   # the local backend: nothing


def test_stopping_a_queued_cluster_job_removes_it_and_stops_it_on_the_cluster(ray_manager):
    run = ray_manager.submit(toy(), "f")
    ray_manager.stop(run)
    assert run.state() == "stopped" and run.read_job()["state"] == "removed"
    assert ray_manager.cluster.stopped == ["sid-f-1"]
    assert ray_manager.sync(force=True) == []


def test_kill_of_a_cluster_job_asks_the_cluster(ray_manager):
    run = ray_manager.submit(toy(), "g")
    run.write_status(state="running", epoch=0, step=0, pid=1, host="another-node", heartbeat=time.time())
    assert ray_manager.kill(run) is True and ray_manager.cluster.stopped == ["sid-g-1"]


def test_a_worker_on_another_machine_is_judged_by_its_heartbeat_not_a_local_pid():
    dead_here = 2**22 + 12345   # no such process on this machine
    now = time.time()
    assert effective_state({"state": "running", "pid": dead_here, "heartbeat": now, "host": HOST}) == "interrupted"
    assert effective_state({"state": "running", "pid": dead_here, "heartbeat": now}) == "interrupted"
    assert effective_state({"state": "running", "pid": dead_here, "heartbeat": now, "host": "gpu-node-2"}) == "running"
    assert effective_state({"state": "running", "pid": dead_here, "heartbeat": now - 600,
                            "host": "gpu-node-2"}) == "interrupted"


def test_a_worker_records_its_host(tmp_path):
    from playground.worker import train_run

    run = Run(tmp_path / "h")
    run.create(toy())
    assert train_run(run, echo=False) == 0
    assert run.read_worker_status()["host"] == HOST


def test_a_cluster_worker_never_starts_the_local_queue(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    local = JobManager(root, max_jobs=1, backend="local")
    queued = Run(root / "waiting")
    queued.create(toy())
    queued.write_job("queued", epochs=2, queued_at=time.time())
    ended = Run(root / "ray-run")
    ended.create(toy())
    ended.write_job("queued", backend="ray", submission_id="x", epochs=2, queued_at=time.time())
    started = []
    monkeypatch.setattr(JobManager, "_spawn", lambda self, run, **kw: started.append(run.id))
    schedule_after_exit(ended)
    assert started == []
    assert local.queued() == [queued]
    schedule_after_exit(Run(root / "waiting"))   # a local worker's end starts the local queue as before
    assert started == ["waiting"]


def test_the_app_and_the_local_queue_never_import_ray(tmp_path):
    code = ("import sys\n"
            "import playground.jobs, playground.cluster, playground.cli, playground.worker\n"
            "from playground.jobs import JobManager\n"
            "m = JobManager(sys.argv[1])\n"
            "assert m.backend == 'local' and m.sync(force=True) == []\n"
            "assert not any(n == 'ray' or n.startswith('ray.') for n in sys.modules), 'ray imported'\n"
            "print('ok')\n")
    env = {k: v for k, v in rel.worker_env().items() if k != jobs.BACKEND_ENV}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_without_ray_the_ray_backend_says_so_plainly(tmp_path, monkeypatch):
    """Ray absent (a None entry in sys.modules makes its import fail): a clear message, no traceback."""
    from playground import cluster

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.job_submission", None)
    monkeypatch.setattr(cluster, "_clients", {})
    m = JobManager(tmp_path / "runs", backend="ray", cluster=cluster.RayBackend(address="http://127.0.0.1:1"))
    with pytest.raises(ClusterUnavailable, match="Ray package is missing"):
        m.submit(rel.tiny_config(device="cpu", epochs=1), "x")
    assert not (tmp_path / "runs" / "x").exists()


def test_jobs_cli_on_the_local_backend(tmp_path):
    """submit (any train flag), list, stop, resume: the dashboard's manager from the command line."""
    env = {k: v for k, v in rel.worker_env().items() if k != jobs.BACKEND_ENV}
    root = tmp_path / "runs"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "playground", "jobs", *args, "--runs-root", str(root)],
                              env=env, capture_output=True, text=True, timeout=120)

    out = cli("submit", "--preset", "classroom", "--dataset", "ring", "--arch", "toy", "--max-images", "64",
              "--batch-size", "16", "--epochs", "400", "--quality-samples", "0", "--device", "cpu",
              "--snapshot-schedule", "1")
    assert out.returncode == 0, out.stderr
    run = Run(root / out.stdout.split()[0])
    try:
        assert rel.wait_until(lambda: run.read_status().get("epoch", 0) >= 1, 120, 0.1)
        assert cli("pause", run.id).returncode == 0
        assert rel.wait_until(lambda: run.state() == "paused", 60, 0.1)
        assert cli("resume", run.id).returncode == 0
        assert rel.wait_until(lambda: run.state() == "running", 60, 0.1)
        assert cli("stop", run.id).returncode == 0
        assert rel.wait_until(lambda: run.state() == "stopped", 60, 0.1)
        rows = json.loads(cli("list", "--json").stdout)
        assert rows[0]["run"] == run.id and rows[0]["state"] == "stopped" and rows[0]["backend"] == "local"
        bad = cli("pause", run.id)
        assert bad.returncode == 2 and "only a running run can be paused" in bad.stderr
        assert cli("stop", "no-such-run").returncode == 2
        bad = cli("submit", "--preset", "classroom", "--epochs", "-3")
        assert bad.returncode == 2 and "epochs" in bad.stderr
        out = cli("resume", run.id, "--epochs", "402")
        assert out.returncode == 0, out.stderr
        assert rel.wait_until(lambda: run.state() in ("running", "finished"), 60, 0.1)
        assert cli("stop", run.id).returncode == 0
        assert rel.wait_until(lambda: run.state() in ("stopped", "finished"), 60, 0.1)
    finally:
        rel.stop_all(root)


# ----------------------------------------------------------------------------- the dashboard on the Ray backend
def test_the_dashboard_on_an_unreachable_cluster_says_so_plainly_and_never_shows_its_address(tmp_path, monkeypatch):
    """Every page renders (the manager's sync changes nothing when the cluster cannot be asked), and
    Home's one-click start says the cluster cannot be reached (or that Ray is not installed) without
    naming its address, and leaves no run folder."""
    import socket
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parent.parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]      # nothing listens there once the socket is closed
    runs, pre = tmp_path / "runs", tmp_path / "pretrained"
    runs.mkdir()
    pre.mkdir()
    for key, value in {"GAN_PLAYGROUND_RUNS": runs, "GAN_PLAYGROUND_PRETRAINED": pre, "GAN_PLAYGROUND_MAX_JOBS": 1,
                       jobs.BACKEND_ENV: "ray", "RAY_ADDRESS": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(key, str(value))
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    for page in (None, "playground/ui/pages/train.py", "playground/ui/pages/watch.py", "playground/ui/pages/runs.py"):
        at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=60)
        if page:
            at.switch_page(page)
        at.run()
        assert not at.exception, page
        shown = "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))
        assert "127.0.0.1" not in shown and str(port) not in shown, page
        if page == "playground/ui/pages/train.py":
            assert "Runs train on the lab's machines" in shown
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=60).run()
    next(b for b in at.button if b.label == "Train the classroom preset").click().run()
    errors = "\n".join(str(e.value) for e in at.error)
    assert "The run could not be started" in errors, errors
    assert "cannot be reached" in errors or "Ray package is missing" in errors, errors
    assert "127.0.0.1" not in errors and str(port) not in errors
    assert not [p for p in runs.iterdir() if (p / "config.json").exists()]
