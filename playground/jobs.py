"""The job manager: start, queue, pause, stop and resume training workers.

Nothing here lives in memory between calls: the state of every job is rebuilt from the run folders
(the worker's status.json with its pid and heartbeat, and this manager's own job.json: queued,
removed from the queue, or a worker starting), so a dashboard restart, a browser refresh or a cleared Streamlit cache
loses nothing. Each worker is its own process (fork+exec of ``python -m playground train``) in its own
process session, so it outlives the server that started it. Starting jobs happens under an exclusive
file lock in the runs folder, so two sessions pressing Start at once never exceed the job limit.
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
from .runs import (JOB_SLOTS_ENV, LAUNCHER_ENV, Run, RunError, atomic_write_json, file_lock, list_runs,
                   new_run_id, open_entry, read_json, terminate)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = ".jobs.lock"
SETTINGS_NAME = ".jobs.json"
DEFAULT_MAX_JOBS = 1


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
    """Jobs of the runs folder ``root``; at most ``max_jobs`` train at once, the rest queue."""

    def __init__(self, root: str | os.PathLike = "runs", max_jobs: int | None = None,
                 python: str = sys.executable):
        self.root = Path(root)
        self.python = python
        self.root.mkdir(parents=True, exist_ok=True)
        if max_jobs is not None:
            if max_jobs < 1:
                raise ValueError("max_jobs must be at least 1")
            if read_max_jobs(self.root) != max_jobs or not (self.root / SETTINGS_NAME).exists():
                atomic_write_json(self.root / SETTINGS_NAME, {"max_jobs": int(max_jobs)})
        self.max_jobs = read_max_jobs(self.root)

    # ------------------------------------------------------------------ queries
    def runs(self) -> list[Run]:
        return list_runs(self.root)

    def active(self) -> list[Run]:
        """Runs whose worker is alive (running or paused)."""
        return [r for r in self.runs() if r.state() in ("running", "paused")]

    def queued(self) -> list[Run]:
        q = [r for r in self.runs() if r.read_status().get("state") == "queued"]
        return sorted(q, key=lambda r: r.read_status().get("queued_at", r.config_path.stat().st_mtime))

    # ------------------------------------------------------------------ actions
    def submit(self, cfg: TrainConfig, run_id: str | None = None) -> Run:
        """Create a run folder for ``cfg`` (validated) and start it, or queue it behind the limit."""
        from .memory import check_config

        cfg.validate()
        check_config(cfg)  # a model that cannot fit in memory is refused before its folder exists
        run = Run(self.root / (run_id or new_run_id(cfg.name or cfg.preset)))
        run.create(cfg)
        run.write_job("queued", epochs=cfg.epochs, queued_at=time.time())
        self.schedule()
        return run

    def schedule(self) -> list[Run]:
        """Start queued runs, oldest first, on devices where fewer than ``max_jobs`` train (the limit
        counts per GPU; playground/devices.py); returns the runs it started."""
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
        are taken. A run waits in the queue exactly when busy >= limit."""
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
                run.write_job("removed")
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
        pid = run.read_status().get("pid")
        return isinstance(pid, int) and pid > 0 and terminate(pid)

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
    if (root / SETTINGS_NAME).exists() or (root / LOCK_NAME).exists():
        try:
            JobManager(root).schedule()
        except OSError:
            pass
