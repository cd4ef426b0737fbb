"""The job manager: start, queue, pause, stop and resume training workers.

Nothing here lives in memory between calls: the state of every job is rebuilt from the run folders
(the worker's status.json with its pid and heartbeat, and this manager's own job.json: queued,
removed from the queue, or a worker starting), so a dashboard restart, a browser refresh or a cleared Streamlit cache
loses nothing. Each worker is its own process (fork+exec of ``python -m playground train``) in its own
process session, so it outlives the server that started it. Starting jobs happens under an exclusive
file lock in the runs folder, so two sessions pressing Start at once never exceed the job limit.

Jobs have a backend: ``local`` (the default: subprocesses of this machine and the on-disk queue
above) or ``ray`` (playground/cluster.py: each job is the same worker command submitted to a Ray
cluster, which places it on a node with a free GPU or keeps it waiting; nothing is queued here).
The run folder is the contract either way; only submission and liveness differ. The backend comes
from ``--backend`` or ``GAN_PLAYGROUND_BACKEND``; a run's job.json names the backend that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import devices
from .config import TrainConfig
from .live import check_live
from .runs import (ACTIVE_STATES, JOB_SLOTS_ENV, LAUNCHER_ENV, Run, RunError, atomic_write_json, file_lock,
                   list_runs, new_run_id, open_entry, read_json, terminate, unlink_entry)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = ".jobs.lock"
SETTINGS_NAME = ".jobs.json"
DEFAULT_MAX_JOBS = 1
BACKEND_ENV = "GAN_PLAYGROUND_BACKEND"
BACKENDS = ("local", "ray")
SYNC_EVERY_S = 3.0          # the Ray backend asks the cluster about live runs at most this often
_last_sync: dict[str, float] = {}


def backend_name(name: str | None = None) -> str:
    """``name``, else ``GAN_PLAYGROUND_BACKEND``, else 'local'; ValueError for anything else."""
    raw = name if name is not None else os.environ.get(BACKEND_ENV, "")
    value = (raw or "local").strip().lower()
    if value not in BACKENDS:
        raise ValueError(f"unknown job backend {raw!r}: use local or ray (--backend, or {BACKEND_ENV})")
    return value


def job_backend(run: Run) -> str:
    """The backend that started the run's job ('local' for folders without job.json: CLI runs)."""
    return "ray" if run.read_job().get("backend") == "ray" else "local"


def _locked(root: Path):
    """The runs folder's lock: one manager at a time starts, queues or removes jobs."""
    root.mkdir(parents=True, exist_ok=True)
    return file_lock(root / LOCK_NAME)


def read_max_jobs(root: Path) -> int:
    try:
        n = int(read_json(root / SETTINGS_NAME).get("max_jobs", DEFAULT_MAX_JOBS))
        return max(1, n)
    except (OSError, ValueError, AttributeError, TypeError, OverflowError):
        return DEFAULT_MAX_JOBS


class JobManager:
    """Jobs of the runs folder ``root``. Local backend: at most ``max_jobs`` train at once per
    device, the rest queue. Ray backend: every job goes to the cluster (``cluster``: a
    playground.cluster.RayBackend, made from ``RAY_ADDRESS`` when not given)."""

    def __init__(self, root: str | os.PathLike = "runs", max_jobs: int | None = None,
                 python: str = sys.executable, backend: str | None = None, cluster=None):
        self.root = Path(root)
        self.python = python
        self.backend = backend_name(backend)
        self._cluster = cluster
        self.root.mkdir(parents=True, exist_ok=True)
        if max_jobs is not None:
            if max_jobs < 1:
                raise ValueError("max_jobs must be at least 1")
            if read_max_jobs(self.root) != max_jobs or not (self.root / SETTINGS_NAME).exists():
                atomic_write_json(self.root / SETTINGS_NAME, {"max_jobs": int(max_jobs)})
        self.max_jobs = read_max_jobs(self.root)

    @property
    def cluster(self):
        if self._cluster is None:
            from .cluster import RayBackend   # imports ray only when a cluster is used
            self._cluster = RayBackend(python=self.python)
        return self._cluster

    # ------------------------------------------------------------------ queries
    def runs(self) -> list[Run]:
        return list_runs(self.root)

    def _mine(self, run: Run) -> bool:
        return job_backend(run) == self.backend

    def active(self) -> list[Run]:
        """This backend's runs whose worker is alive (running or paused)."""
        return [r for r in self.runs() if r.state() in ("running", "paused") and self._mine(r)]

    def queued(self) -> list[Run]:
        """This backend's runs waiting for a slot (Ray backend: for the cluster to start them)."""
        q = [r for r in self.runs() if r.read_status().get("state") == "queued" and self._mine(r)]
        return sorted(q, key=lambda r: r.read_status().get("queued_at", r.config_path.stat().st_mtime))

    # ------------------------------------------------------------------ actions
    def submit(self, cfg: TrainConfig, run_id: str | None = None) -> Run:
        """Create a run folder for ``cfg`` (validated) and start it, or queue it behind the limit."""
        from .memory import check_config

        cfg.validate()
        check_config(cfg)  # a model that cannot fit in memory is refused before its folder exists
        run = Run(self.root / (run_id or new_run_id(cfg.name or cfg.preset)))
        run.create(cfg)
        if self.backend == "ray":
            try:
                self._submit_to_cluster(run, cfg)
            except BaseException:
                run.delete()   # the cluster never had it: no folder is left queued for ever
                raise
            return run
        run.write_job("queued", epochs=cfg.epochs, queued_at=time.time())
        self.schedule()
        return run

    def schedule(self) -> list[Run]:
        """Start queued runs, oldest first, on devices where fewer than ``max_jobs`` train (the limit
        counts per GPU; playground/devices.py); returns the runs it started. The Ray backend
        queues nothing here (the cluster does): it only brings the runs' states up to date."""
        if self.backend == "ray":
            self.sync(force=True)
            return []
        started = []
        with _locked(self.root):
            busy = devices.busy_devices(self.active())
            for run in self.queued():
                device = devices.place(device_setting(run), busy, self.max_jobs)
                if device is None:
                    continue  # its devices are full; a run behind it may use another
                self._spawn(run, resume=False, device=device)
                busy[devices.device_key(device)] += 1
                started.append(run)
        return started

    def slots(self, device: str | Run) -> tuple[int, int]:
        """(busy, limit): the slots of the devices a run with this device setting (or this run) may
        start on (on a machine with two GPUs an 'auto' run has 2 x max_jobs), and how many of them
        are taken. A run waits in the queue exactly when busy >= limit. Ray backend: the runs
        training on the cluster, and how many jobs like this one it can run at once ((0, 1) when
        the cluster cannot say: no queue is announced)."""
        if self.backend == "ray":
            from .cluster import ClusterUnavailable

            threads = 0
            if isinstance(device, Run):
                try:
                    threads = device.read_config().threads
                except (OSError, ValueError):
                    pass
            try:
                limit = self.cluster.slots(device_setting(device) if isinstance(device, Run) else device, threads)
            except ClusterUnavailable:
                limit = None
            return (len(self.active()), limit) if limit else (0, 1)
        busy = devices.busy_devices(self.active())
        usable = devices.usable_devices(device_setting(device) if isinstance(device, Run) else device)
        # a device over its limit (max_jobs was lowered) gives no slot to the others
        return sum(min(busy[d], self.max_jobs) for d in usable), self.max_jobs * len(usable)

    def resume(self, run: Run, epochs: int | None = None) -> bool:
        """Continue an interrupted, stopped or failed run from its newest checkpoint (if a slot is
        free; otherwise False and nothing changes)."""
        from .resume import plan_resume

        state = run.state()
        if state in ("running", "paused", "queued"):
            raise RunError(f"run {run.id} is {state}; only an ended run can be resumed")
        plan_resume(run, epochs)  # ResumeRefused (a RunError) says why, and nothing is written
        with _locked(self.root):
            # Again under the lock: a second session pressing Resume on the same run a moment
            # later must not start a second worker on it.
            state = run.state()
            if state in ("running", "paused", "queued"):
                raise RunError(f"run {run.id} is {state}; only an ended run can be resumed")
            if self.backend == "ray":   # the cluster keeps it waiting while no node is free
                if run.control_path.exists():
                    run.write_control(state="running")
                self._submit_to_cluster(run, run.read_config(), resume=True, epochs=epochs)
                return True
            device = devices.place(device_setting(run), devices.busy_devices(self.active()), self.max_jobs)
            if device is None:
                return False
            if run.control_path.exists():
                run.write_control(state="running")
            self._spawn(run, resume=True, epochs=epochs, device=device)
        return True

    def pause(self, run: Run) -> None:
        run.write_control(state="paused")

    def unpause(self, run: Run) -> None:
        run.write_control(state="running")

    def stop(self, run: Run) -> None:
        """Ask the worker to save a checkpoint and stop; a queued run is simply marked stopped."""
        with _locked(self.root):
            if run.read_status().get("state") == "queued":
                job = run.read_job()
                cluster_job = job.get("submission_id") if job.get("backend") == "ray" else None
                run.write_job("removed", **({"backend": "ray", "submission_id": cluster_job} if cluster_job else {}))
                if cluster_job:   # a worker Ray starts anyway finds the run removed and ends at once
                    self._stop_cluster_job(cluster_job)
                return
        run.write_control(state="stopped")

    def set_live(self, run: Run, **values) -> None:
        """Change live settings (playground/live.py) of a training run: checked here against the run's
        config (ConfigError names each bad one), and again by the worker as it reads them."""
        run.write_control(**check_live(run.read_config(), values))

    def kill(self, run: Run) -> bool:
        """SIGTERM the run's worker; only while the run is live, so the pid of an ended run (which
        the system may have given to another process since) is never signalled."""
        if run.state() not in ("running", "paused"):
            return False
        job = run.read_job()
        if job.get("backend") == "ray" and job.get("submission_id"):
            return self._stop_cluster_job(job["submission_id"])   # Ray sends the worker SIGTERM
        pid = run.read_status().get("pid")
        return isinstance(pid, int) and pid > 0 and terminate(pid)

    # ------------------------------------------------------------------ the Ray backend
    def sync(self, force: bool = False) -> list[Run]:
        """Ray backend: a live run (queued, running or paused) whose cluster job has ended (failed,
        stopped, finished without its worker saying so) or that the cluster no longer knows is
        recorded as lost in job.json, so every reader shows it interrupted; returns those runs.
        Asks the cluster at most every SYNC_EVERY_S per runs folder unless ``force``; a cluster
        that cannot be reached changes nothing (the heartbeat still ends a silent run)."""
        if self.backend != "ray":
            return []
        from .cluster import TERMINAL

        key = str(self.root.resolve())
        now = time.monotonic()
        if not force and now - _last_sync.get(key, float("-inf")) < SYNC_EVERY_S:
            return []
        _last_sync[key] = now
        lost = []
        for run in self.runs():
            job = run.read_job()
            sid = job.get("submission_id")
            if job.get("backend") != "ray" or not isinstance(sid, str) or job.get("state") != "queued":
                continue
            if run.read_status().get("state") not in ACTIVE_STATES:
                continue
            ray_status = self.cluster.status(sid)
            if ray_status is None:
                break     # the cluster cannot be asked now: try again on the next call
            if ray_status not in (*TERMINAL, "LOST"):
                continue
            with _locked(self.root):  # again under the lock: the worker may have written its end since
                if (run.read_job().get("submission_id") == sid
                        and run.read_status().get("state") in ACTIVE_STATES):
                    run.write_job("lost", backend="ray", submission_id=sid, ray_status=ray_status)
                    lost.append(run)
        return lost

    def _submit_to_cluster(self, run: Run, cfg: TrainConfig, resume: bool = False,
                           epochs: int | None = None) -> None:
        """Record the job in job.json (queued, with its submission id), then submit it. The record
        comes first, so a worker that starts at once writes a status newer than it; a refused
        submission puts the previous record back and raises ClusterUnavailable."""
        previous = run.read_job()
        sid = self.cluster.submission_id(run)
        at = time.time()
        record = dict(backend="ray", submission_id=sid, epochs=epochs or cfg.epochs, queued_at=at, at=at,
                      **({"resume": True} if resume else {}))
        run.write_job("queued", **record)
        try:
            placed = self.cluster.submit(run, sid, device=cfg.device, threads=cfg.threads, resume=resume,
                                         epochs=epochs)
        except BaseException:
            if previous:
                atomic_write_json(run.job_path, previous, root=run.path)
            else:
                unlink_entry(run.job_path, root=run.path)
            raise
        run.write_job("queued", **record, **placed)   # same 'at': a status the worker wrote since stays newer

    def _stop_cluster_job(self, submission_id: str) -> bool:
        from .cluster import ClusterUnavailable

        try:
            return self.cluster.stop(submission_id)
        except ClusterUnavailable:
            return False

    # ------------------------------------------------------------------ spawning
    def _spawn(self, run: Run, resume: bool, epochs: int | None = None,
               device: str | None = None) -> subprocess.Popen:
        cmd = [self.python, "-m", "playground", "train", "--run-dir", str(run.path.resolve()), "--quiet"]
        if resume:
            cmd.append("--resume")
            if epochs is not None:
                cmd += ["--epochs", str(int(epochs))]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env[LAUNCHER_ENV] = str(os.getpid())       # the worker lowers its priority
        env[JOB_SLOTS_ENV] = str(self.max_jobs)  # "auto" threads: the cores shared out among the slots
        if device:
            env[devices.DEVICE_ENV] = device     # the device counted against the limit below
        out_fd = open_entry(run.path / "worker.out", os.O_WRONLY | os.O_APPEND | os.O_CREAT, root=run.path)
        with os.fdopen(out_fd, "ab") as out:  # a regular file of the run only, never a link out of it
            proc = subprocess.Popen(cmd, cwd=str(PROJECT_ROOT), env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True)
        # Claim the slot at once, while the lock is still held: the run counts as active for
        # every other manager from now on. The claim is the manager's own file (job.json): the
        # worker's status.json is never written here, so nothing the worker wrote is overwritten.
        try:
            run.write_job("starting", pid=proc.pid, **({"device": device} if device else {}))
        except BaseException:
            terminate(proc.pid, signal.SIGKILL)  # an unclaimed worker would train outside the limit
            raise
        return proc


def device_setting(run: Run) -> str:
    """The device setting of the run's config ('auto' when it cannot be read)."""
    try:
        return run.read_config().device
    except (OSError, ValueError):
        return "auto"   # an unreadable config: the worker reports it when it starts


def schedule_after_exit(run: Run) -> None:
    """Called by a worker as it ends: start whatever was queued behind it in the same folder."""
    root = run.path.parent
    if job_backend(run) == "ray":
        return   # the cluster starts what waits for it; a node never starts this folder's local queue
    if (root / SETTINGS_NAME).exists() or (root / LOCK_NAME).exists():
        try:
            JobManager(root, backend="local").schedule()
        except OSError:
            pass
