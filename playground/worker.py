"""The training worker: turns one run folder into a trained run, whatever happens on the way.

It is the only writer of the run folder (but control.json). Whatever ends it — the last epoch, a
stop request, SIGTERM, a bad config, a full disk, a diverged loss — it writes a final status that
says what happened in plain words, and it never deletes a checkpoint or grid that was saved.

Only one worker ever trains a run: each holds an exclusive lock on ``<run>/.worker.lock`` for its
whole life (the kernel drops it when the process dies, even by SIGKILL), and a worker that cannot
take it leaves the folder untouched. The worker is the only writer of status.json: the job manager
claims a run in its own job.json (see Run.read_status). A background thread keeps the heartbeat fresh while data load or a slow
first step keeps the training loop from writing one.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import signal
import sys
import threading
import time
import traceback

import torch

from . import memory
from .checkpoint import CheckpointError
from .config import ConfigError
from .data import DataError, load_dataset
from .data.common import UploadRefused
from .devices import DEVICE_ENV
from .i18n import N_, Message
from .resume import ResumeRefused, plan_resume
from .runs import HOST, LAUNCHER_ENV, Run, RunError, open_entry
from .training import Hooks, Trainer, TrainingFailed, model_spec, pick_device

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WORKER_NICE = 10
HEARTBEAT_EVERY_S = 5.0


class _Refused(Exception):
    """This worker must not train the run (another one does, or it was already started)."""


class _StopRequested(BaseException):  # not Exception: the data loaders' "skip this file" handlers must not eat it
    """SIGTERM/SIGINT/SIGHUP before the training loop runs (loading data, building the models)."""


class _StatusWriter:
    """Writes status.json for the worker and keeps its heartbeat fresh from a daemon thread.

    The thread rewrites the last status with a new heartbeat only while the state is running or
    paused and the main thread has not written for HEARTBEAT_EVERY_S; a lock orders its writes with
    the main thread's, so a final status is never overwritten by an older one."""

    def __init__(self, run: Run):
        self.run = run
        self.last: dict = {"state": "running"}
        self._lock = threading.Lock()
        self._written = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def write(self, status: dict) -> None:
        with self._lock:
            status = {**status, "host": HOST}   # its pid is this machine's (a cluster has several)
            self.last = dict(status)
            self._written = time.monotonic()
            self.run.write_status(**status)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S / 5):
            with self._lock:
                if (self.last.get("state") not in ("running", "paused")
                        or time.monotonic() - self._written < HEARTBEAT_EVERY_S):
                    continue
                self._written = time.monotonic()
                try:
                    self.run.write_status(**{**self.last, "heartbeat": time.time()})
                except (OSError, ValueError):
                    pass  # the main thread meets the same error on its next write and reports it


class _Log:
    """Appends timestamped lines to log.txt (and echoes them to stderr)."""

    def __init__(self, run: Run, echo: bool = True):
        self.run, self.echo = run, echo

    def __call__(self, msg: str, echo: bool = True) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n"
        if self.echo and echo:
            sys.stderr.write(line)
            sys.stderr.flush()
        try:  # only a regular file inside the run folder: a log.txt link is never appended through
            fd = open_entry(self.run.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, root=self.run.path)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line)
        except (OSError, RunError):
            pass  # a full disk must not turn a log line into a crash; the status says what happened


def plain_os_error(e: OSError, run: Run) -> str:
    if e.errno == errno.ENOSPC:
        return (f"Could not write to {run.path}: the disk is full. The last checkpoint and sample grids "
                "are kept; free some space and resume the run.")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"Could not write to {run.path}: permission denied ({e.strerror}). The last checkpoint "
                "and sample grids are kept.")
    return f"Could not read or write a file in {run.path}: {e}"


def train_run(run: Run, *, resume: bool = False, epochs: int | None = None, echo: bool = True) -> int:
    """Train (or resume) the run in ``run``; returns an exit status (0 ok, 1 failed, 2 bad input).

    A resume is planned first (playground/resume.py, reads only); a refused one says why on stderr
    and leaves every file of the folder as it was."""
    log = _Log(run, echo)
    if os.environ.pop(LAUNCHER_ENV, ""):   # started by the job manager (and not passed on)
        _lower_priority()
    if resume:
        try:  # before the lock file is made: a refusal must not add even that
            plan_resume(run, epochs)
        except ResumeRefused as e:
            return _refuse(run, str(e))
    try:
        lock = _take_worker_lock(run)
    except _Refused as e:  # leave the folder (and the status the other worker writes) alone
        log(f"Not started: {e}")
        return EXIT_FAILED
    try:
        unsafe = [] if resume else run.unsafe_entries()  # a resume was checked by plan_resume
        if unsafe:
            msg = (f"{run.path} holds entries that are not regular files or folders: {'; '.join(unsafe[:3])}. "
                   "A run folder holds only what the trainer wrote; refused")
            log(f"FAILED: {msg}")  # (a log.txt that is a link is left alone by the log itself)
            try:  # replaces a status.json link by a file; never writes through it
                run.write_status(state="failed", epoch=0, step=0, error=msg, message=msg)
            except (OSError, RunError):
                pass
            return EXIT_USAGE
        status = run.read_status()
        claimed = status.get("state") == "running" and status.get("pid") == os.getpid()  # by the job manager
        if not resume and status.get("state") not in ("queued", None) and not claimed:
            log(f"Not started: {run.path} was already started (state {status.get('state')}); "
                "use --resume to continue it")
            return EXIT_FAILED
        plan = None
        if resume:
            try:  # again, under the lock: what another worker did before it ended counts
                plan = plan_resume(run, epochs)
            except ResumeRefused as e:
                return _refuse(run, str(e))
            status = run.read_worker_status() or {}
        return _train_locked(run, log, status, plan=plan, epochs=epochs)
    finally:
        if lock is not None:
            lock.close()


def _refuse(run: Run, message: str) -> int:
    """A refused resume: the message on stderr, and the folder exactly as it was (a claim of the
    job manager lapses as this process ends: readers then see the run's status as it was)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return EXIT_USAGE


def _train_locked(run: Run, log, status: dict, *, plan, epochs: int | None) -> int:
    resume = plan is not None
    stop = {"flag": False, "setup": False}

    def on_signal(signum, frame):
        stop["flag"] = True
        if stop["setup"]:  # loading data or building the models: nothing to save, so stop right here
            raise _StopRequested(signum)
        log(f"Received signal {signum}: stopping after the current step.")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (tests may call this directly)
            pass

    writer = _StatusWriter(run)
    try:
        removed = run.remove_leftovers()
        if removed:
            log(f"Removed {len(removed)} unfinished file(s) of an interrupted worker: {', '.join(sorted(removed)[:5])}")
        for note in plan.notes if resume else ():
            log(note)
        cfg = plan.cfg if resume else run.read_config()
        if epochs is not None and not resume:
            cfg = cfg.replace(epochs=epochs).validate()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if resume:  # where the checkpoint is; the status of a run killed mid-epoch says more
            epoch0, step0 = plan.epoch, plan.checkpoint[1]["step"] if plan.checkpoint else 0
        else:
            epoch0, step0 = status.get("epoch", 0), status.get("step", 0)
        # the device the job manager placed this run on (its limit counts per GPU), else the config's
        placed = os.environ.pop(DEVICE_ENV, "")
        writer.write(dict(state="running", epoch=epoch0, step=step0, epochs=cfg.epochs, pid=os.getpid(),
                          heartbeat=time.time(), message=N_("loading data"),
                          **({"device": placed} if placed else {})))
        writer.start()
        stop["setup"] = True
        try:  # a signal in here (a data load that blocks, say) ends the worker at once
            if stop["flag"]:
                raise _StopRequested(signal.SIGTERM)
            device = pick_device(placed or cfg.device)
            data = load_dataset(cfg.dataset, data_dir=cfg.data_dir or None, image_size=cfg.image_size or None,
                                channels=cfg.channels or None, max_images=cfg.max_images or None,
                                seed=cfg.seed, source=cfg.data_source, device=device, log=log)
            if data.info.skipped:
                log(f"Skipped files: {data.info.skipped}")
            spec = model_spec(cfg, data.info)
            memory.check(spec, cfg, device)  # before a byte of the models is allocated
            old = run.read_config_doc()
            if resume and old.get("model") not in (None, spec.to_dict()):
                raise CheckpointError("config.json no longer describes the model this run trained "
                                      "(was it edited by hand?)")
            run.write_config(cfg, data=dataclasses.asdict(data.info), model=spec.to_dict())
            trainer = Trainer(run, cfg, data, device, Hooks(should_stop=lambda: stop["flag"],
                                                            on_status=writer.write, log=log),
                              resume=plan.checkpoint if resume else False)
        finally:
            stop["setup"] = False  # from here a signal stops the loop after its step (a checkpoint first)
        trainer.fit()
        writer.stop()
        _start_queued(run)
        return EXIT_OK
    except _StopRequested as e:
        log(f"Received signal {e.args[0]} before training started: stopped.")
        writer.stop()
        last = {k: v for k, v in writer.last.items() if k not in ("state", "message", "updated", "format_version")}
        try:
            run.write_status(**{**last, "state": "stopped", "pid": os.getpid(), "heartbeat": time.time(),
                                "message": "stopped by request before training started; resume starts it again"})
        except (OSError, RunError):
            pass
        return EXIT_OK
    except (ConfigError, DataError, RunError, CheckpointError, ValueError) as e:
        # bad input (a setting, an edited file, a refused upload) exits 2; a failure of the data 1
        usage = isinstance(e, (ConfigError, RunError, CheckpointError, UploadRefused))
        return _fail(run, log, writer, str(e), EXIT_USAGE if usage else EXIT_FAILED)
    except TrainingFailed as e:
        return _fail(run, log, writer, _stored(e), EXIT_FAILED)
    except OSError as e:
        log(traceback.format_exc(), echo=False)  # the plain message below is what a person reads
        return _fail(run, log, writer, plain_os_error(e, run), EXIT_FAILED)
    except torch.cuda.OutOfMemoryError:
        return _fail(run, log, writer, "The GPU ran out of memory. Try a smaller batch size or model, "
                                       "or train on the CPU.", EXIT_FAILED)
    except Exception as e:  # a bug: keep the traceback in the log, a short line in the status
        log(traceback.format_exc(), echo=False)
        return _fail(run, log, writer, f"Training crashed: {type(e).__name__}: {e}. See log.txt.", EXIT_FAILED)
    finally:
        writer.stop()


def _lower_priority() -> None:
    """Workers of the dashboard's job manager train at a lower CPU priority (nice +WORKER_NICE), so
    the server, the browser and the latent explorer get a core the moment they need one while the
    run uses every core otherwise ("auto" threads, playground/speed.py)."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):
        pass  # no nice() on this OS, or not permitted: train at the normal priority


def _take_worker_lock(run: Run):
    """Hold ``<run>/.worker.lock`` for this worker's life; _Refused when another worker holds it."""
    try:
        f = os.fdopen(open_entry(run.path / ".worker.lock", os.O_RDWR | os.O_CREAT, root=run.path), "r+b")
    except (OSError, RunError):
        return None  # no folder, no space for an empty file, or a link there: the steps below report it
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise _Refused(f"{run.path} is being trained by another worker; stop it first") from None
    return f


def _start_queued(run: Run) -> None:
    from .jobs import schedule_after_exit

    schedule_after_exit(run)


def _stored(e: Exception):
    """An exception's message, kept as a Message (with its id and values) when it is one."""
    return e.args[0] if len(e.args) == 1 and isinstance(e.args[0], Message) else str(e)


def _fail(run: Run, log, writer: _StatusWriter, message: str, code: int) -> int:
    log(f"FAILED: {message}")
    writer.stop()
    status = {k: v for k, v in writer.last.items()
          if k not in ("state", "message", "error", "error_id", "updated", "format_version")}
    status.update(state="failed", error=str(message), message=str(message), heartbeat=time.time(), pid=os.getpid())
    if isinstance(message, Message):   # the dashboard shows it in the reader's language
        status["error_id"] = message.to_json()
    try:
        run.write_status(**status)
    except OSError:
        try:  # a full disk refuses the temporary file; the old status.json's block can still be reused
            run.write_status_in_place(**status)
        except OSError:
            pass  # nothing can be written; the job manager reports a dead worker as interrupted
    try:
        _start_queued(run)
    except Exception:
        pass
    return code
