"""The training worker: turns one run folder into a trained run, whatever happens on the way.

It is the only writer of the run folder (but control.json). Whatever ends it — the last epoch, a
stop request, SIGTERM, a bad config, a full disk, a diverged loss — it writes a final status that
says what happened in plain words, and it never deletes a checkpoint or grid that was saved.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import sys
import time
import traceback

import torch

from .checkpoint import CheckpointError
from .config import ConfigError, TrainConfig
from .data import DataError, load_dataset
from .runs import Run, RunError
from .training import Hooks, Trainer, TrainingFailed, model_spec, pick_device

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Log:
    """Appends timestamped lines to log.txt (and echoes them to stderr)."""

    def __init__(self, run: Run, echo: bool = True):
        self.run, self.echo = run, echo

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n"
        if self.echo:
            sys.stderr.write(line)
            sys.stderr.flush()
        try:
            with open(self.run.log_path, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError:
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
    """Train (or resume) the run in ``run``; returns an exit status (0 ok, 1 failed, 2 bad input)."""
    log = _Log(run, echo)
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True
        log(f"Received signal {signum}: stopping after the current step.")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (tests may call this directly)
            pass

    last = {"state": "running"}

    def on_status(st: dict):
        last.clear()
        last.update(st)
        run.write_status(**st)

    try:
        status = run.read_status()
        cfg = run.read_config()
        claimed = status.get("state") == "running" and status.get("pid") == os.getpid()  # by the job manager
        if not resume and status.get("state") not in ("queued", None) and not claimed:
            raise RunError(f"{run.path} was already started (state {status.get('state')}); "
                           "use --resume to continue it")
        if epochs is not None:
            cfg = cfg.replace(epochs=epochs).validate()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        run.write_status(state="running", epoch=status.get("epoch", 0), step=status.get("step", 0),
                         epochs=cfg.epochs, pid=os.getpid(), heartbeat=time.time(),
                         message="loading data")
        device = pick_device(cfg.device)
        data = load_dataset(cfg.dataset, data_dir=cfg.data_dir or None, image_size=cfg.image_size or None,
                            channels=cfg.channels or None, max_images=cfg.max_images or None,
                            seed=cfg.seed, source=cfg.data_source, device=device, log=log)
        if data.info.skipped:
            log(f"Skipped files: {data.info.skipped}")
        spec = model_spec(cfg, data.info)
        old = run.read_config_doc()
        if resume and old.get("model") not in (None, spec.to_dict()):
            raise CheckpointError("config.json no longer describes the model this run trained "
                                  "(was it edited by hand?)")
        run.write_config(cfg, data=dataclasses.asdict(data.info), model=spec.to_dict())
        trainer = Trainer(run, cfg, data, device, Hooks(should_stop=lambda: stop["flag"],
                                                        on_status=on_status, log=log), resume=resume)
        trainer.fit()
        _start_queued(run)
        return EXIT_OK
    except (ConfigError, DataError, RunError, CheckpointError, ValueError) as e:
        return _fail(run, log, last, str(e), EXIT_USAGE if isinstance(e, ConfigError) else EXIT_FAILED)
    except TrainingFailed as e:
        return _fail(run, log, last, str(e), EXIT_FAILED)
    except OSError as e:
        log(traceback.format_exc())
        return _fail(run, log, last, plain_os_error(e, run), EXIT_FAILED)
    except torch.cuda.OutOfMemoryError:
        return _fail(run, log, last, "The GPU ran out of memory. Try a smaller batch size or model, "
                                     "or train on the CPU.", EXIT_FAILED)
    except Exception as e:  # a bug: keep the traceback in the log, a short line in the status
        log(traceback.format_exc())
        return _fail(run, log, last, f"Training crashed: {type(e).__name__}: {e}. See log.txt.", EXIT_FAILED)


def _start_queued(run: Run) -> None:
    from .jobs import schedule_after_exit

    schedule_after_exit(run)


def _fail(run: Run, log, last: dict, message: str, code: int) -> int:
    log(f"FAILED: {message}")
    st = {k: v for k, v in last.items() if k not in ("state", "message", "error", "updated", "format_version")}
    st.update(state="failed", error=message, message=message, heartbeat=time.time(), pid=os.getpid())
    try:
        run.write_status(**st)
    except OSError:
        pass  # the disk may still be full; the job manager reports a dead worker as interrupted
    try:
        _start_queued(run)
    except Exception:
        pass
    return code
