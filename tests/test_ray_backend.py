"""The Ray backend against a real Ray cluster started here: a head node without CPUs (so nothing
trains on it) and two worker nodes, each offering one CPU and one "training_slot" (a custom
resource, as a lab declares one per GPU machine). Jobs go through the same JobManager as the
dashboard's, and the CLI's ``jobs`` verbs; every run folder is read back afterwards.

The whole file is skipped where Ray is not installed (requirements-cluster.txt adds it; .ci/run
installs it). One cluster serves the file (about 20 s to start on the 2-core machine) and is shut
down by its fixture's finalizer, whatever the tests did.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.job_submission")

from playground.cluster import RayBackend  # noqa: E402
from playground.jobs import JobManager  # noqa: E402
from playground.runs import Run, pid_alive  # noqa: E402
from tests.support import reliability as rel  # noqa: E402

SLOT = {"training_slot": 1}
NODES = 2
TOY = dict(dataset="ring", arch="toy", max_images=64, batch_size=16, z_dim=2, g_hidden=(16, 16),
           d_hidden=(16, 16), embed_dim=4, log_every=2, device="cpu", seed=0, snapshot_schedule="1",
           quality_samples=0, sample_count=16)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(request):
    """The dashboard URL of a fresh Ray cluster: a head and NODES nodes of one training slot each."""
    from ray.cluster_utils import Cluster

    # Ray fails a job that waits for resources longer than this (15 minutes by default); the head's
    # dashboard process reads it when it starts.
    os.environ.setdefault("RAY_JOB_START_TIMEOUT_SECONDS", "3600")
    c = Cluster(initialize_head=True, shutdown_at_exit=True,
                head_node_args=dict(num_cpus=0, include_dashboard=True, dashboard_host="127.0.0.1",
                                    dashboard_port=_free_port()))
    request.addfinalizer(c.shutdown)
    for _ in range(NODES):
        c.add_node(num_cpus=1, resources=SLOT)
    url = "http://" + c.webui_url
    from ray.job_submission import JobSubmissionClient
    deadline = time.monotonic() + 60
    while True:  # the dashboard answers a little after the head is up
        try:
            JobSubmissionClient(url)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return url


@pytest.fixture
def manager(cluster, tmp_path):
    m = JobManager(tmp_path / "runs", backend="ray", cluster=RayBackend(address=cluster, resources=SLOT))
    yield m
    for run in m.runs():   # nothing of this test keeps training on the cluster
        sid = run.read_job().get("submission_id")
        if sid and m.cluster.status(sid) in ("PENDING", "RUNNING"):
            m.cluster.stop(sid)


def toy(**over):
    return rel.tiny_config(**{**TOY, **over})


def ended(run: Run) -> bool:
    return run.state() in ("finished", "failed", "stopped", "interrupted")


def wait(pred, timeout=240.0) -> bool:
    return rel.wait_until(pred, timeout, 0.2)


def ray_status(m: JobManager, run: Run) -> str:
    return m.cluster.status(run.read_job()["submission_id"])


def test_jobs_run_to_the_end_and_write_complete_run_folders(manager, cluster, tmp_path):
    """One job through the manager, one through ``python -m playground jobs submit`` (RAY_ADDRESS,
    GAN_PLAYGROUND_BACKEND and the slot resource from the environment, as an administrator sets them)."""
    a = manager.submit(toy(epochs=2), "a")
    job = a.read_job()
    assert job["backend"] == "ray" and job["submission_id"].startswith("gan-playground-a-"), job
    assert job["device"] == "cpu" and job["resources"]["entrypoint_resources"] == SLOT, job

    env = {**rel.worker_env(), "RAY_ADDRESS": cluster, "GAN_PLAYGROUND_BACKEND": "ray",
           "GAN_PLAYGROUND_RAY_RESOURCES": json.dumps(SLOT)}
    flags = ["--dataset", "ring", "--arch", "toy", "--max-images", "64", "--batch-size", "16", "--epochs", "2",
             "--z-dim", "2", "--g-hidden", "16,16", "--d-hidden", "16,16", "--log-every", "2", "--device", "cpu",
             "--snapshot-schedule", "1", "--quality-samples", "0", "--sample-count", "16", "--seed", "1"]
    out = subprocess.run([sys.executable, "-m", "playground", "jobs", "submit", "--preset", "gan-mnist",
                          "--runs-root", str(manager.root), *flags],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    b = Run(manager.root / out.stdout.split()[0])
    assert b.read_job()["backend"] == "ray"

    assert wait(lambda: ended(a) and ended(b))
    assert rel.check_finished(a, toy(epochs=2)) == []
    assert rel.check_finished(b, b.read_config()) == [] and b.read_config().seed == 1
    # Ray says so a moment after the worker wrote its end and exited
    assert wait(lambda: ray_status(manager, a) == ray_status(manager, b) == "SUCCEEDED", 60)
    assert manager.sync(force=True) == []   # a finished run is never marked lost

    listed = subprocess.run([sys.executable, "-m", "playground", "jobs", "list", "--json",
                             "--runs-root", str(manager.root)], env=env, capture_output=True, text=True, timeout=60)
    rows = {r["run"]: r for r in json.loads(listed.stdout)}
    assert rows["a"]["state"] == "finished" and rows["a"]["backend"] == "ray" and rows["a"]["epoch"] == 2
    assert cluster not in listed.stdout   # the address is the administrator's, not in any listing


def test_more_jobs_than_slots_wait_and_then_run(manager):
    """Four jobs, two slots: Ray holds two back (PENDING, the run reads 'queued'); all finish, and
    no more than two ever trained at once."""
    runs = [manager.submit(toy(epochs=3, seed=i), f"r{i}") for i in range(4)]
    most, saw_waiting = 0, False
    deadline = time.monotonic() + 300
    while not all(ended(r) for r in runs) and time.monotonic() < deadline:
        states = [r.state() for r in runs]
        most = max(most, states.count("running") + states.count("paused"))
        saw_waiting |= "queued" in states and states.count("running") == NODES
        time.sleep(0.1)
    for i, r in enumerate(runs):
        assert rel.check_finished(r, toy(epochs=3, seed=i)) == [], r.id
    assert saw_waiting, "no job was seen waiting while both slots trained"
    assert most <= NODES
    assert all(wait(lambda r=r: ray_status(manager, r) == "SUCCEEDED", 60) for r in runs)
    # the runs' own record: from the first metrics line to the last, never more than two trained at once
    spans = [(lambda times: (min(times), max(times)))([m["time"] for m in r.read_metrics(0)[0]]) for r in runs]
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= NODES


def test_pause_and_stop_go_through_the_control_file_and_a_queued_job_leaves_the_cluster(manager):
    long = [manager.submit(toy(epochs=400, seed=i), f"long{i}") for i in range(NODES)]
    waiting = manager.submit(toy(epochs=2), "waiting")
    assert wait(lambda: all(r.read_status().get("epoch", 0) >= 1 for r in long), 180)
    assert waiting.state() == "queued" and ray_status(manager, waiting) == "PENDING"

    # Off the queue. Ray's Jobs API cannot cancel a job before a node takes it: its stop request
    # waits with it, and a worker that starts anyway finds the run removed and ends at once.
    manager.stop(waiting)
    assert waiting.state() == "stopped" and waiting.read_job()["state"] == "removed"

    run = long[0]
    manager.pause(run)
    assert wait(lambda: run.state() == "paused", 60)
    epoch = run.read_status()["epoch"]
    time.sleep(2)
    assert run.read_status()["epoch"] == epoch and ray_status(manager, run) == "RUNNING"
    manager.unpause(run)
    assert wait(lambda: run.state() == "running" and run.read_status()["epoch"] > epoch, 60)
    for r in long:
        manager.stop(r)
    assert wait(lambda: all(r.state() == "stopped" for r in long), 120)
    assert all(wait(lambda r=r: ray_status(manager, r) == "SUCCEEDED", 60) for r in long)
    assert all(r.train_checkpoint_stems() for r in long)   # a stop saves a checkpoint first
    assert wait(lambda: ray_status(manager, waiting) in ("STOPPED", "FAILED", "SUCCEEDED"), 120)
    assert waiting.state() == "stopped"
    assert not waiting.status_path.exists() and not waiting.metrics_path.exists() and not waiting.sample_epochs()
    assert manager.sync(force=True) == []


def test_a_killed_job_reads_interrupted_from_rays_status_and_resume_finishes_it(manager):
    cfg = toy(epochs=60)
    run = manager.submit(cfg, "killed")
    assert wait(lambda: run.read_status().get("epoch", 0) >= 2, 180)
    first = run.read_job()["submission_id"]
    pid = run.read_status()["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait(lambda: not pid_alive(pid), 30)
    assert wait(lambda: ray_status(manager, run) == "FAILED", 60)
    # Ray's job status, not the local pid: a worker on another node is judged by the cluster
    status = run.read_worker_status()
    assert status["state"] == "running"
    assert [r.id for r in manager.sync(force=True)] == ["killed"]
    job = run.read_job()
    assert job["state"] == "lost" and job["ray_status"] == "FAILED" and job["submission_id"] == first
    assert run.read_status()["state"] == "interrupted" and run.state() == "interrupted"

    assert manager.resume(run) is True
    again = run.read_job()
    assert again["state"] == "queued" and again["resume"] is True and again["submission_id"] != first
    assert wait(lambda: ended(run), 300)
    assert rel.check_finished(run, cfg) == []
    assert wait(lambda: ray_status(manager, run) == "SUCCEEDED", 60)


def test_an_unreachable_cluster_is_a_plain_message_that_names_no_address(tmp_path):
    address = f"http://127.0.0.1:{_free_port()}"
    m = JobManager(tmp_path / "runs", backend="ray", cluster=RayBackend(address=address, resources=SLOT))
    from playground.cluster import ClusterUnavailable
    with pytest.raises(ClusterUnavailable) as e:
        m.submit(toy(epochs=1), "nowhere")
    assert "cannot be reached" in str(e.value) and "127.0.0.1" not in str(e.value)
    assert not (m.root / "nowhere").exists()   # no folder left queued for a cluster that never had it


def test_the_cluster_says_how_many_jobs_fit_and_refuses_a_gpu_job_it_has_no_gpu_for(manager):
    assert manager.slots("cpu") == (0, NODES)         # one training slot on each node
    assert manager.slots("auto") == (0, NODES)        # no GPU in this cluster: 'auto' asks for a CPU
    assert manager.cluster.request("auto", 0)["device"] == "cpu"
    from playground.cluster import ClusterUnavailable
    with pytest.raises(ClusterUnavailable, match="no machine of the training cluster offers what this run "
                                                 "needs .GPU 1, CPU 1, training_slot 1."):
        manager.submit(toy(epochs=1, device="cuda"), "gpu")
    assert not (manager.root / "gpu").exists()


def test_a_cluster_that_did_not_answer_is_not_asked_again_at_once(tmp_path, monkeypatch):
    from playground import cluster as cl

    calls = []
    real = cl._check_port
    monkeypatch.setattr(cl, "_check_port", lambda address: (calls.append(address), real(address)))
    address = f"http://127.0.0.1:{_free_port()}"
    backend = RayBackend(address=address, resources=SLOT)
    for _ in range(3):
        with pytest.raises(cl.ClusterUnavailable):
            backend.client()
    assert calls == [address]   # a page rerun a moment later does not wait for it again
    assert backend.status("any") is None   # the manager's sync: nothing known, nothing changed
