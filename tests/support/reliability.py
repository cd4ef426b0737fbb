"""Reliability campaigns: what a killed worker, a dead server or a failing disk leaves behind.

Used with few trials by tests/test_crash_safety.py, tests/test_jobs.py and tests/test_os_errors.py,
and with the full count by scripts/reliability_report.py (which writes benchmarks/reliability.md).
Test code: the product package never imports this module.

Crash moments. A worker (``python -m playground train --run-dir <run>``, in its own session, as the
job manager starts it) is killed with SIGKILL at one of CRASH_MOMENTS: ``steps`` (after a random
logged step), or half-way through the n-th write of one kind (grid, checkpoint, snapshot, metrics,
status, config). To land inside a write reliably the worker is started through
``python -m tests.support.slow_writes <kind>:<seconds> train ...`` (see tests/support/slow_writes.py),
which pauses that kind of write half-way; the product itself has no such pause.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from playground import checkpoint, runs
from playground.config import TrainConfig
from playground.jobs import PROJECT_ROOT, JobManager
from playground.runs import STATES, Run, RunError, read_json
from playground.outputs import latest_train_checkpoint

from .slow_writes import hooked_writes, write_kind

# 256 images / batch 16 = 16 steps per epoch, a step line every 4 steps, 4 epochs: about two
# seconds of CPU training with the grid, snapshot, metrics and checkpoint writes of every epoch.
CRASH_CONFIG = dict(dataset="mnist", data_source="bundled", max_images=256, batch_size=16, epochs=4,
                    arch="dcgan", g_filters=8, d_filters=8, z_dim=16, log_every=4, sample_count=16,
                    device="cpu", threads=1, seed=0, snapshot_schedule="1", keep_checkpoints=2)
CRASH_MOMENTS = ("steps", "grid", "checkpoint", "snapshot", "metrics", "status", "config")
# How many writes of each kind a CRASH_CONFIG run makes (at least): the kill picks one of them.
WRITES_PER_RUN = {"grid": 5, "snapshot": 10, "checkpoint": 8, "metrics": 16, "status": 16, "config": 1}
DELAY_S = {"status": 0.15, "metrics": 0.2}   # others: DEFAULT_DELAY_S
DEFAULT_DELAY_S = 0.4
_TMP_GLOBS = {"grid": "samples/.*.tmp", "checkpoint": "checkpoints/.train_step_*.tmp",
              "snapshot": "checkpoints/.snapshot_epoch_*.tmp", "status": ".status.json.*.tmp",
              "config": ".config.json.*.tmp"}


def tiny_config(**over) -> TrainConfig:
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **CRASH_CONFIG, **over}).validate()


def worker_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def spawn_worker(run: Run, *, delay: str = "", resume: bool = False) -> subprocess.Popen:
    """The worker as the job manager starts it (own session, output to worker.out); with ``delay``
    ("kind:seconds,..."), through tests.support.slow_writes, which slows those writes."""
    launcher = ["-m", "tests.support.slow_writes", delay] if delay else ["-m", "playground"]
    cmd = [sys.executable, *launcher, "train", "--run-dir", str(run.path), "--quiet"]
    if resume:
        cmd.append("--resume")
    with open(run.path / "worker.out", "ab") as out:
        return subprocess.Popen(cmd, cwd=str(PROJECT_ROOT), env=worker_env(), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(pid: int) -> None:
    """SIGKILL a worker's process group (it leads its own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_worker_of(run: Run, pid) -> bool:
    """SIGKILL ``pid``'s group only if it is still a worker of ``run`` (its command line names the
    run folder), so a pid that was reused by another process is never touched."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if str(run.path).encode() not in cmdline and str(run.path.resolve()).encode() not in cmdline:
        return False
    kill_group(pid)
    return True


def wait_until(pred, timeout: float, every: float = 0.005, proc: subprocess.Popen | None = None) -> bool:
    """Poll ``pred`` until it is true (True), the time is up or ``proc`` has exited (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(pred())
        time.sleep(every)
    return False


# ----------------------------------------------------------------------------- reading a folder back
def check_run_folder(run: Run) -> dict:
    """Read every file of a run folder the way the dashboard and resume do.

    Returns {"problems": [...], "torn_last_line": bool, "leftovers": n, "skipped_checkpoints": [...]}:
    a problem is anything a reader would fail on; a torn last metrics line, temporary files and a
    train checkpoint that does not verify (resume skips it) are allowed and only counted."""
    problems, skipped = [], []
    try:
        run.read_config()
    except (RunError, ValueError) as e:
        problems.append(f"config: {e}")
    try:
        st = read_json(run.status_path)
        if not isinstance(st, dict) or st.get("state") not in STATES:
            problems.append(f"status: not a status object: {st!r}")
    except RunError as e:
        problems.append(f"status: {e}")
    torn = False
    if run.metrics_path.exists():
        data = run.metrics_path.read_bytes()
        lines = data.split(b"\n")
        torn = lines[-1] != b""
        for i, line in enumerate(lines[:-1]):
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "type" not in rec:
                    raise ValueError("not a record")
            except ValueError as e:
                problems.append(f"metrics line {i + 1}: {e}")
    for epoch in run.sample_epochs():
        try:
            with Image.open(run.sample_path(epoch)) as img:
                img.load()
        except Exception as e:  # noqa: BLE001 - any decoder error means an unreadable grid
            problems.append(f"grid {epoch}: {e}")
    for npz in sorted(run.samples_dir.glob("epoch_*.npz")):
        try:
            with np.load(npz, allow_pickle=False) as f:
                [f[k] for k in f.files]
        except Exception as e:  # noqa: BLE001
            problems.append(f"{npz.name}: {e}")
    for epoch in run.snapshot_epochs():  # the latent explorer opens these
        try:
            checkpoint.load(run.snapshot_stem(epoch))
        except checkpoint.CheckpointError as e:
            problems.append(f"snapshot {epoch}: {e}")
    for stem in run.train_checkpoint_stems():
        try:
            checkpoint.load(stem)
        except checkpoint.CheckpointError:
            skipped.append(stem.name)
    leftovers = sum(1 for pattern in _TMP_GLOBS.values() for _ in run.path.glob(pattern))
    leftovers += sum(1 for p in run.checkpoints_dir.glob("*.safetensors") if not p.with_suffix(".json").exists())
    return {"problems": problems, "torn_last_line": torn, "leftovers": leftovers, "skipped_checkpoints": skipped}


def epoch_lines(run: Run) -> list[int]:
    return [int(r["epoch"]) for r in run.read_metrics(0)[0] if r.get("type") == "epoch"]


def checkpoint_epoch(run: Run) -> int:
    """Epoch of the newest train checkpoint that verifies (0 when there is none)."""
    ck = latest_train_checkpoint(run)
    return int(ck[1]["epoch"]) if ck else 0


def check_finished(run: Run, cfg: TrainConfig) -> list[str]:
    """Problems of a run that should have finished all ``cfg.epochs`` with every epoch exactly once."""
    out = list(check_run_folder(run)["problems"])
    st = run.read_status()
    if st.get("state") != "finished" or st.get("epoch") != cfg.epochs:
        out.append(f"status is {st.get('state')} at epoch {st.get('epoch')}, not finished at {cfg.epochs}")
    records = run.read_metrics(0)[0]
    if epoch_lines(run) != list(range(1, cfg.epochs + 1)):
        out.append(f"epoch lines {epoch_lines(run)}")
    steps = [r["step"] for r in records if r.get("type") == "step"]
    spe = cfg.max_images // cfg.batch_size
    if steps != list(range(cfg.log_every, spe * cfg.epochs + 1, cfg.log_every)):
        out.append(f"step lines repeat or skip: {steps}")
    if run.sample_epochs() != list(range(cfg.epochs + 1)):
        out.append(f"grids {run.sample_epochs()}")
    if checkpoint_epoch(run) != cfg.epochs:
        out.append(f"newest checkpoint is of epoch {checkpoint_epoch(run)}")
    left = check_run_folder(run)["leftovers"]
    if left:
        out.append(f"{left} leftover temporary file(s)")
    return out


def differences_from(run: Run, reference: Run, epochs: int) -> list[str]:
    """How a resumed run differs from an uninterrupted ``reference`` of the same config: resume
    restores weights, both optimizers and the RNG, so the epoch losses and the last grid match."""
    out = []
    mine = [(r["loss_d"], r["loss_g"]) for r in run.read_metrics(0)[0] if r.get("type") == "epoch"]
    ref = [(r["loss_d"], r["loss_g"]) for r in reference.read_metrics(0)[0] if r.get("type") == "epoch"]
    if len(mine) != len(ref) or not np.allclose(mine, ref, rtol=1e-4, atol=1e-6):
        out.append(f"epoch losses differ from the uninterrupted run: {mine} vs {ref}")
    if run.sample_path(epochs).read_bytes() != reference.sample_path(epochs).read_bytes():
        out.append("the last grid differs from the uninterrupted run's")
    return out


# ----------------------------------------------------------------------------- campaign 1: SIGKILL
def _in_flight(run: Run, kind: str) -> set[str]:
    """Names of writes of ``kind`` under way now (temporary files; for metrics, a torn end)."""
    if kind == "metrics":
        try:
            with open(run.metrics_path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                return set() if f.read(1) == b"\n" else {f"metrics@{f.tell()}"}
        except OSError:
            return set()
    return {p.name for p in run.path.glob(_TMP_GLOBS[kind])}


def crash_trial(root: Path, name: str, moment: str, rng: random.Random, cfg: TrainConfig | None = None,
                reference: Run | None = None, resume_inline: bool = False) -> dict:
    """Start a worker, SIGKILL it at ``moment``, check the folder, resume it to the end, check again.

    Returns a dict with ``killed`` (False when the worker ended before the chosen moment: no trial),
    ``survived``, ``lost_epochs`` (completed epochs that had to be trained again), ``where``,
    ``problems`` and, given an uninterrupted ``reference`` run, ``differs_from_reference``."""
    cfg = cfg or tiny_config()
    run = Run(Path(root) / name)
    run.create(cfg)
    delay_s = DELAY_S.get(moment, DEFAULT_DELAY_S)
    proc = spawn_worker(run, delay="" if moment == "steps" else f"{moment}:{delay_s}")
    where = {"moment": moment}
    try:
        if moment == "steps":
            spe = cfg.max_images // cfg.batch_size
            target = rng.randrange(cfg.log_every, spe * cfg.epochs, cfg.log_every)
            where["after_step"] = target

            def reached():
                return any(r.get("step", 0) >= target for r in run.read_metrics(0)[0] if r.get("type") == "step")
            hit = wait_until(reached, 120, 0.003, proc)
            time.sleep(rng.uniform(0, 0.05))
        else:
            target = rng.randrange(WRITES_PER_RUN[moment])
            seen: set[str] = set()

            def reached():
                now = _in_flight(run, moment)
                seen.update(now)
                return len(seen) > target and bool(now)
            hit = wait_until(reached, 120, 0.003, proc)
            where.update(write=target + 1, file=sorted(_in_flight(run, moment))[:1])
            time.sleep(rng.uniform(0.0, 0.8 * delay_s))
        killed = hit and proc.poll() is None
    finally:
        if proc.poll() is None:
            kill_group(proc.pid)
        proc.wait(timeout=60)
    result = {"name": name, "killed": killed, "where": where, "survived": False, "lost_epochs": 0}
    if not killed:
        return result
    where["status"] = {k: run.read_status().get(k) for k in ("epoch", "step", "message")}
    folder = check_run_folder(run)
    problems = [f"after kill: {p}" for p in folder["problems"]]
    state = run.state()
    if state != "interrupted":
        problems.append(f"the killed run reads as {state}, not interrupted")
    if any(r.id == run.id for r in JobManager(root).active()):
        problems.append("the job manager still counts the killed run as active")
    done, kept = max(epoch_lines(run), default=0), checkpoint_epoch(run)
    lost = max(0, done - kept)
    if lost > 1:
        problems.append(f"{lost} completed epochs were lost (checkpoint of epoch {kept}, metrics up to {done})")
    if resume_inline:
        from playground.worker import train_run
        code = train_run(run, resume=True, echo=False)
    else:
        resumed = spawn_worker(run, resume=True)
        code = resumed.wait(timeout=300)
    if code != 0:
        problems.append(f"resume exited with {code}: {run.read_status().get('error')}")
    problems += [f"after resume: {p}" for p in check_finished(run, cfg)]
    if reference is not None:
        result["differs_from_reference"] = differences_from(run, reference, cfg.epochs)
    result.update(survived=not problems, lost_epochs=lost, problems=problems, torn_last_line=folder["torn_last_line"],
                  leftovers=folder["leftovers"], skipped_checkpoints=folder["skipped_checkpoints"], resumed_from=kept)
    return result


def reference_run(root: Path, cfg: TrainConfig | None = None) -> Run:
    """An uninterrupted run of ``cfg`` (in this process) to compare resumed runs with."""
    from playground.worker import train_run
    run = Run(Path(root) / "reference")
    run.create(cfg or tiny_config())
    if train_run(run, echo=False) != 0:
        raise RuntimeError(f"the reference run failed: {run.read_status().get('error')}")
    return run


# ----------------------------------------------------------------------------- campaign 2: restarts
PARENT_CODE = """
import json, sys, time
from playground.config import TrainConfig
from playground.jobs import JobManager
run = JobManager(sys.argv[1], max_jobs=int(sys.argv[3])).submit(TrainConfig.from_dict(json.loads(sys.argv[2])), sys.argv[4])
print(run.read_status().get("pid"), flush=True)
time.sleep(3600)
"""


def spawn_parent(root: Path, cfg: TrainConfig, run_id: str, max_jobs: int = 1) -> subprocess.Popen:
    """A stand-in for the Streamlit server: a Python process that submits one job, then idles."""
    return subprocess.Popen([sys.executable, "-c", PARENT_CODE, str(root), json.dumps(cfg.to_dict()),
                             str(max_jobs), run_id], cwd=str(PROJECT_ROOT), env=worker_env(),
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def parent_death_trial(root: Path, cfg: TrainConfig, run_id: str) -> dict:
    """Kill the process that started a job; the worker must train on, be seen by a fresh job
    manager, and finish."""
    parent = spawn_parent(root, cfg, run_id)
    problems = []
    try:
        line = parent.stdout.readline().decode().strip()
        worker_pid = int(line) if line.isdigit() else None
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    run = Run(Path(root) / run_id)
    if not worker_pid or worker_pid == parent.pid:
        problems.append(f"no worker pid was claimed (got {line!r})")
    seen_active = wait_until(lambda: any(r.id == run_id for r in JobManager(root).active()), 30, 0.05)
    if not seen_active and run.read_status().get("state") != "finished":
        problems.append(f"a new job manager did not see the run after its parent died ({run.state()})")
    if not wait_until(lambda: run.state() not in ("queued", "running", "paused"), 300, 0.1):
        problems.append("the worker did not finish in time")
        kill_worker_of(run, worker_pid)
    problems += check_finished(run, cfg)
    return {"survived": not problems, "problems": problems, "worker_pid": worker_pid, "parent_pid": parent.pid,
            "seen_active_after_parent_died": seen_active}


SUBMIT_CODE = """
import json, sys, time
from playground.config import TrainConfig
from playground.jobs import JobManager
root, max_jobs, go, fake = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
cfg = TrainConfig.from_dict(json.loads(sys.argv[5]))
time.sleep(max(0.0, go - time.time() - 0.02))
while time.time() < go:  # the last 20 ms spinning, so all start within a scheduler tick
    pass
JobManager(root, max_jobs=max_jobs, python=fake).submit(cfg)
"""


def fake_python(folder: Path) -> Path:
    """An executable that stands in for ``python -m playground train``: it only stays alive, so a
    lock test measures the job manager, not a dozen PyTorch imports on two CPU cores."""
    path = Path(folder) / "fake-worker"
    path.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    path.chmod(0o755)
    return path


def count_active(root: Path) -> int:
    return sum(1 for r in runs.list_runs(root) if r.state() in ("running", "paused"))


def concurrent_submit_trial(root: Path, n: int, max_jobs: int, fake: Path) -> dict:
    """``n`` processes press Start at the same instant; the active count is watched throughout."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    go = time.time() + 1.0
    cfg = json.dumps(tiny_config().to_dict())
    procs = [subprocess.Popen([sys.executable, "-c", SUBMIT_CODE, str(root), str(max_jobs), str(go), str(fake), cfg],
                              cwd=str(PROJECT_ROOT), env=worker_env()) for _ in range(n)]
    observations, most = 0, 0
    try:
        while any(p.poll() is None for p in procs) or observations < 50:
            most = max(most, count_active(root))
            observations += 1
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            most = max(most, count_active(root))
            observations += 1
        states = [r.read_status().get("state") for r in runs.list_runs(root)]
    finally:
        for p in procs:
            p.wait()
        stop_all(root)
    return {"max_active": most, "observations": observations, "runs": len(states),
            "running": states.count("running"), "queued": states.count("queued"),
            "survived": most <= max_jobs and states.count("running") == min(n, max_jobs) and len(states) == n}


def queue_restart_trial(root: Path, fake: Path) -> dict:
    """Two jobs, limit 1: the second waits on disk through a "server restart" (the managers are
    dropped), the first dies without its exit hook, and a fresh manager starts the second."""
    root = Path(root)
    first = JobManager(root, max_jobs=1, python=str(fake))
    a, b = first.submit(tiny_config(), "a"), first.submit(tiny_config(), "b")
    problems = []
    if (a.state(), b.state()) != ("running", "queued"):
        problems.append(f"before the restart: a {a.state()}, b {b.state()}")
    del first
    restarted = JobManager(root, python=str(fake))
    if [r.id for r in restarted.queued()] != ["b"] or restarted.schedule():
        problems.append("after the restart the queue was lost or the limit ignored")
    kill_worker_of(a, a.read_status().get("pid"))
    if not wait_until(lambda: a.state() == "interrupted", 10, 0.02):
        problems.append(f"the dead worker's run reads as {a.state()}")
    started = [r.id for r in JobManager(root, python=str(fake)).schedule()]
    if started != ["b"] or b.state() != "running":
        problems.append(f"a fresh manager started {started}; b is {b.state()}")
    stop_all(root)
    return {"survived": not problems, "problems": problems, "lost": 0 if started == ["b"] else 1}


def double_resume_trial(root: Path, fake: Path) -> dict:
    """Two sessions press Resume on one interrupted run (limit 2) while a third holds the lock, so
    both pass the first check before either spawns: exactly one worker may start."""
    import threading
    from playground import jobs
    root = Path(root)
    run = JobManager(root, max_jobs=2, python=str(fake)).submit(tiny_config(), "r")
    kill_worker_of(run, run.read_status().get("pid"))
    wait_until(lambda: run.state() == "interrupted", 10, 0.02)
    outcomes = []

    def press():
        try:
            outcomes.append(JobManager(root, python=str(fake)).resume(run))
        except RunError as e:
            outcomes.append(str(e))

    with jobs._locked(root):
        threads = [threading.Thread(target=press) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # both are past the first check and wait for the lock
    for t in threads:
        t.join(30)
    active = count_active(root)
    stop_all(root)
    return {"outcomes": outcomes, "active": active,
            "survived": outcomes.count(True) == 1 and active == 1 and any("is running" in str(o) for o in outcomes)}


def stop_all(root: Path) -> None:
    """SIGKILL every worker of the runs under ``root`` (their process groups)."""
    killed = [r.read_status().get("pid") for r in runs.list_runs(root)
              if kill_worker_of(r, r.read_status().get("pid"))]
    wait_until(lambda: not any(runs.pid_alive(pid) for pid in killed), 10, 0.01)


# ----------------------------------------------------------------------------- campaign 3: OS errors
@contextmanager
def failing_writes(run: Run, kind: str, err: int = errno.ENOSPC):
    """From the first write of ``kind`` after the run's first train checkpoint exists, every write
    of that kind into ``run`` fails with ``err`` (in this process) before a byte is written. It
    hooks the file every run-folder writer of playground.runs opens (slow_writes.hooked_writes), so
    it does not depend on how other modules import the writers; the in-place status fallback of a
    failing worker is not hooked."""
    failures = []
    folders = {Path(os.path.realpath(d)) for d in (run.path, run.samples_dir, run.checkpoints_dir)}

    def hooked(f, path, data):
        if (path.parent in folders and write_kind(path) == kind
                and run.train_checkpoint_stems()):
            failures.append(path.name)
            raise OSError(err, os.strerror(err), str(run.path / path.relative_to(os.path.realpath(run.path))))
        return f.write(data)

    with hooked_writes(hooked):
        yield failures


OS_ERROR_KINDS = ("grid", "metrics", "snapshot", "checkpoint", "status")
# 4 steps per epoch and no quality figure (it writes nothing): for trials about writes and processes.
FAST_CONFIG = dict(max_images=64, quality_samples=0)


def os_error_trial(root: Path, name: str, kind: str, err: int = errno.ENOSPC, cfg: TrainConfig | None = None) -> dict:
    """Train a 3-epoch run whose writes of ``kind`` fail with ``err`` once epoch 1 is saved: the
    run must end 'failed' with a plain message naming its folder, keep epoch 1's checkpoint and
    every grid readable, and resume to the end once the fault is gone."""
    from playground.worker import train_run
    cfg = cfg or tiny_config(epochs=3, **FAST_CONFIG)
    run = Run(Path(root) / name)
    run.create(cfg)
    with failing_writes(run, kind, err) as failures:
        code = train_run(run, echo=False)
    st = run.read_status()
    problems = []
    words = {errno.ENOSPC: "disk is full", errno.EACCES: "permission denied"}.get(err, os.strerror(err))
    if code != 1 or st.get("state") != "failed":
        problems.append(f"ended {st.get('state')} with exit {code}, not failed")
    if words not in str(st.get("error")) or str(run.path) not in str(st.get("error")):
        problems.append(f"message does not say '{words}' and name the folder: {st.get('error')!r}")
    if not failures:
        problems.append("no write failed")
    folder = check_run_folder(run)
    problems += [f"after the failure: {p}" for p in folder["problems"]]
    kept = checkpoint_epoch(run)
    if kept != 1:
        problems.append(f"the newest complete checkpoint is of epoch {kept}, not 1")
    if code == 1 and train_run(run, resume=True, echo=False) != 0:
        problems.append(f"resume failed: {run.read_status().get('error')}")
    problems += [f"after resume: {p}" for p in check_finished(run, cfg)]
    return {"name": name, "kind": kind, "errno": errno.errorcode.get(err, str(err)), "failed_write": failures[:1],
            "message": st.get("error"), "survived": not problems, "problems": problems}
