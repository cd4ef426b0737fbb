"""The run folder: the one contract between the trainer, the dashboard, the CLI and the tests.

Layout (format version 1; see README "Run folder format")::

    <run>/config.json      {"format_version", "config": TrainConfig, "data": DataInfo | null, "model": ModelSpec | null}
    <run>/status.json      state, epoch, step, pid, heartbeat, message, error (atomic writes)
    <run>/metrics.jsonl    append-only, one JSON object per line ("step", "epoch", "change", "event")
    <run>/control.json     written by the dashboard/CLI: desired state and live settings
    <run>/job.json         written by the job manager only: queued, removed from the queue, starting,
                           or lost (its cluster job ended while the run was live)
    <run>/samples/epoch_000.png   fixed-noise grid per epoch (toys: also epoch_000.npz arrays)
    <run>/checkpoints/     safetensors + JSON (train_step_000001234.*, snapshot_epoch_0005.*)
    <run>/log.txt          the worker's human-readable log

A run folder holds only regular files and real folders: every file of it is read, written, pruned
and deleted through playground/safe_files.py (no link followed out of it, no FIFO or device
opened, reads bounded). The training worker is the only writer of everything but control.json.
Every whole-file write is atomic (temporary file, flush, fsync, rename); metrics.jsonl is
append-only and readers skip a torn last line, or a line that is not a well-typed record.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import FORMAT_VERSION, ConfigError, TrainConfig
from .i18n import N_
from .safe_files import (MAX_JSON_BYTES, MAX_METRICS_BYTES, RunError, UnsafeEntry, relative_parts, entry_kind,  # noqa: F401
                         list_files, open_dir, open_entry, parse_json, read_bytes, unlink_entry)

STATES = ("queued", "running", "paused", "finished", "stopped", "failed", "interrupted")
ACTIVE_STATES = ("queued", "running", "paused")
HEARTBEAT_STALE_S = 90.0  # a live worker beats at least every few seconds, even when paused

# Set by the job manager for a worker it starts (the manager's pid): the worker trains at a lower priority.
LAUNCHER_ENV = "GAN_PLAYGROUND_LAUNCHER"
JOB_SLOTS_ENV = "GAN_PLAYGROUND_JOB_SLOTS"  # the job limit, passed to workers: "auto" threads share the cores
CPUS_ENV = "GAN_PLAYGROUND_CPUS"  # the CPUs a cluster reserved for the job (Ray backend): "auto" threads

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_SAMPLE = re.compile(r"^epoch_(\d{3,5})\.png$")
_SNAPSHOT = re.compile(r"^snapshot_epoch_(\d{4,5})\.json$")
_TRAIN = re.compile(r"^train_step_(\d{9,})\.json$")
CHECKPOINT_FILES = (".json", ".safetensors")   # a checkpoint is a stem with these two files; JSON first


@contextmanager
def file_lock(path: str | os.PathLike, *, root: str | os.PathLike | None = None):
    """An exclusive advisory lock on ``path`` (created if needed), released on exit or process death."""
    fd = open_entry(path, os.O_RDWR | os.O_CREAT, root=root)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- atomic files
def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, root: str | os.PathLike | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The temporary file is made and renamed inside the folder opened through ``open_dir`` (every
    folder from ``root`` on is real, never a link out of it); the rename replaces whatever entry
    had the name (a link is replaced, never written through)."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    parts = relative_parts(path, root)
    dfd = open_dir(root, parts[:-1])
    try:
        name = parts[-1]
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
        try:
            os.fsync(dfd)
        except OSError:
            pass
    finally:
        os.close(dfd)


def atomic_write_json(path: str | os.PathLike, obj, *, root: str | os.PathLike | None = None) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode(), root=root)


def read_json(path: str | os.PathLike, *, root: str | os.PathLike | None = None, limit: int = MAX_JSON_BYTES):
    """Parse a JSON file; RunError with the file's name when it is missing, broken, too large, or
    not a regular file (UnsafeEntry)."""
    path = Path(path)
    try:
        data = read_bytes(path, limit, root=root)
    except FileNotFoundError:
        raise RunError(f"{path} is missing") from None
    except OSError as e:
        raise RunError(f"{path} cannot be read: {e.strerror or e}") from None
    return parse_json(data, path)


# ----------------------------------------------------------------------------- run ids
def new_run_id(name: str = "") -> str:
    """A unique, URL- and filesystem-safe id: date-time, a slug of the name, random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug + '-' if slug else ''}{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a plain folder name; RunError otherwise (no paths, no '..')."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise RunError(f"{run_id!r} is not a valid run id (letters, digits, '.', '_' and '-' only)")
    return run_id


def resolve_run(root: str | os.PathLike, run_id: str) -> "Run":
    """The run ``run_id`` inside ``root``; never a folder outside it."""
    check_run_id(run_id)
    root = Path(root).resolve()
    path = (root / run_id).resolve()
    if path.parent != root:
        raise RunError(f"{run_id!r} is not inside {root}")
    if not (path / "config.json").is_file():
        raise RunError(f"there is no run called {run_id!r} in {root}")
    return Run(path)


# ----------------------------------------------------------------------------- the run folder
@dataclass
class Run:
    path: Path

    def __post_init__(self):
        self.path = Path(self.path)

    # paths
    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def control_path(self) -> Path:
        return self.path / "control.json"

    @property
    def job_path(self) -> Path:
        return self.path / "job.json"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def sample_path(self, epoch: int, ext: str = "png") -> Path:
        return self.samples_dir / f"epoch_{epoch:03d}.{ext}"

    def snapshot_stem(self, epoch: int) -> Path:
        """The generator snapshot of ``epoch``: ``<stem>.json`` + ``<stem>.safetensors``."""
        return self.checkpoints_dir / f"snapshot_epoch_{epoch:04d}"

    def train_checkpoint_stem(self, step: int) -> Path:
        """The training checkpoint (G, D, both Adam states, RNG) saved after ``step`` D updates."""
        return self.checkpoints_dir / f"train_step_{step:09d}"

    def train_checkpoint_stems(self) -> list[Path]:
        """Stems of the training checkpoints whose JSON is a regular file, oldest first."""
        names = list_files(self.checkpoints_dir, root=self.path)
        return sorted(self.checkpoints_dir / n[:-len(".json")] for n in names if _TRAIN.match(n))

    def delete_checkpoint(self, stem: Path) -> None:
        """Remove one checkpoint, JSON first: a half-deleted one reads as incomplete."""
        for suffix in CHECKPOINT_FILES:
            unlink_entry(stem.with_suffix(suffix), root=self.path)

    # config
    def create(self, cfg: TrainConfig) -> None:
        """Make the folder with a validated config (does not overwrite); it reads as 'queued' until
        its worker writes a status."""
        cfg.validate()
        self.path.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            raise RunError(f"{self.path} already holds a run; use --resume to continue it")
        self.samples_dir.mkdir(exist_ok=True)
        self.checkpoints_dir.mkdir(exist_ok=True)
        self.write_config(cfg)

    def write_config(self, cfg: TrainConfig, data: dict | None = None, model: dict | None = None) -> None:
        atomic_write_json(self.config_path, {"format_version": FORMAT_VERSION, "config": cfg.to_dict(),
                                             "data": data, "model": model}, root=self.path)

    def read_config_doc(self) -> dict:
        doc = read_json(self.config_path, root=self.path)
        if not isinstance(doc, dict) or "config" not in doc:
            raise RunError(f"{self.config_path} is not a GAN Playground config (no 'config' entry)")
        if doc.get("format_version") != FORMAT_VERSION:
            raise RunError(f"{self.config_path} has format version {str(doc.get('format_version'))[:40]!r}; "
                           f"this version of the app reads version {FORMAT_VERSION}")
        for key in ("data", "model"):
            if not isinstance(doc.get(key), (dict, type(None))):
                raise RunError(f"{self.config_path}: '{key}' must be an object (or null), got {str(doc[key])[:40]!r}")
        return doc

    def read_config(self) -> TrainConfig:
        doc = self.read_config_doc()
        try:
            return TrainConfig.from_dict(doc["config"]).validate()
        except ConfigError as e:
            raise RunError(f"{self.config_path} holds an invalid config: {e}") from None

    # status
    def read_status(self) -> dict:
        """The run's state as everyone but its worker sees it: the worker's status.json, unless the job
        manager's job.json is newer (queued, removed from the queue, or a worker starting).

        A status.json that exists but cannot be read (edited by hand, a damaged disk, a link or a
        device put in its place) reads as 'failed', never as 'queued': a queued run would be started
        again from scratch."""
        status = self.read_worker_status()
        if status is not None and status.get("_unreadable"):
            return {k: v for k, v in status.items() if k != "_unreadable"}
        return _with_job(status, self.read_job())

    def read_worker_status(self) -> dict | None:
        """status.json as the worker wrote it (None when there is none yet); an unreadable one is a
        'failed' status marked ``_unreadable``."""
        try:
            status = read_json(self.status_path, root=self.path)
        except RunError as e:
            if not os.path.lexists(self.status_path):
                return None
            msg = f"{e}; resume the run to continue from its last checkpoint"
            return {"state": "failed", "epoch": 0, "step": 0, "error": msg, "message": msg, "_unreadable": True}
        bad = _status_problem(status)
        if bad:
            msg = f"{self.status_path} {bad}; resume the run to continue from its last checkpoint"
            return {"state": "failed", "epoch": 0, "step": 0, "error": msg, "message": msg, "_unreadable": True}
        return status

    # the job manager's file
    def write_job(self, state: str, **fields) -> dict:
        """job.json: 'queued' (waiting for a slot), 'removed' (taken off the queue), 'starting'
        (a worker was started: its ``pid``) or 'lost' (the Ray backend: the cluster's job ended while
        the run was live). Jobs of the Ray backend add ``backend`` and ``submission_id``. Only the
        job manager writes it."""
        doc = {"format_version": FORMAT_VERSION, "state": state, "at": time.time(), **fields}
        atomic_write_json(self.job_path, doc, root=self.path)
        return doc

    def read_job(self) -> dict:
        doc = self._read_object(self.job_path)
        return doc if doc.get("state") in JOB_STATES and _real(doc.get("at")) else {}

    def _read_object(self, path: Path) -> dict:
        """A JSON object file of the run, or {} when it is missing, damaged or not an object."""
        try:
            doc = read_json(path, root=self.path)
        except RunError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def write_status(self, **fields) -> dict:
        status = {"format_version": FORMAT_VERSION, "updated": time.time(), **fields}
        atomic_write_json(self.status_path, status, root=self.path)
        return status

    def write_status_in_place(self, **fields) -> dict:
        """Last resort when the disk is full and no new file can be made: overwrite the existing
        status.json in place (compact JSON, a few hundred bytes, so it reuses the file's block).
        Not atomic; the worker uses it only for its final 'failed' status."""
        status = {"format_version": FORMAT_VERSION, "updated": time.time(), **fields}
        data = json.dumps(status, allow_nan=False).encode() + b"\n"
        fd = open_entry(self.status_path, os.O_WRONLY, root=self.path)  # no O_CREAT: only an existing file
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        return status

    def state(self) -> str:
        """The state the dashboard should show: a 'running' run whose worker is gone is 'interrupted'."""
        return effective_state(self.read_status())

    # metrics
    def append_metrics(self, records: list[dict]) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, allow_nan=True) + "\n" for r in records).encode()
        fd = open_entry(self.metrics_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, root=self.path)
        with os.fdopen(fd, "ab") as f:
            f.write(data)
            f.flush()

    def _metrics_bytes(self, offset: int) -> bytes:
        try:
            fd = open_entry(self.metrics_path, root=self.path)
        except FileNotFoundError:
            return b""
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            chunks, total = [], 0
            while total < MAX_METRICS_BYTES and (chunk := os.read(fd, min(1 << 20, MAX_METRICS_BYTES - total))):
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        """Records from byte ``offset`` on, and the offset after the last complete line.

        A live poll passes the previous offset and so reads only what is new; a torn last line
        (a worker killed mid-write) is left for the next read, never parsed half. A line that is
        not a record (torn by an earlier crash, or edited by hand: ``"epoch": "x"``) is skipped;
        ``bad_metrics_lines`` says which.
        """
        data = self._metrics_bytes(offset)
        end = data.rfind(b"\n")
        if end < 0:
            return [], offset
        out = []
        for line in data[: end + 1].splitlines():
            rec = _metrics_record(line)
            if rec is not None:
                out.append(rec)
        return out, offset + end + 1

    def bad_metrics_lines(self) -> list[int]:
        """1-based numbers of the complete metrics lines that readers skip."""
        data = self._metrics_bytes(0)
        lines = data[: data.rfind(b"\n") + 1].splitlines()
        return [i for i, line in enumerate(lines, 1) if _metrics_record(line) is None]

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep only lines of epochs ≤ ``last_epoch`` (used on resume so no epoch repeats)."""
        records, _ = self.read_metrics(0)
        keep = [r for r in records if r.get("epoch", 0) <= last_epoch]
        atomic_write_bytes(self.metrics_path, "".join(json.dumps(r) + "\n" for r in keep).encode(),
                           root=self.path)

    # samples and snapshots (regular files only: a link or a device in these folders is not listed)
    def sample_epochs(self) -> list[int]:
        names = list_files(self.samples_dir, root=self.path)
        return sorted(int(m.group(1)) for n in names if (m := _SAMPLE.match(n)))

    def snapshot_epochs(self) -> list[int]:
        names = set(list_files(self.checkpoints_dir, root=self.path))
        return sorted(int(m.group(1)) for n in names
                      if (m := _SNAPSHOT.match(n)) and n[:-len(".json")] + ".safetensors" in names)

    def unsafe_entries(self) -> list[str]:
        """Entries of the folder that are not regular files or real folders (symlinks, FIFOs,
        devices, sockets), with what they are: the worker refuses to train a run that has any."""
        found = []
        for folder in (self.path, self.samples_dir, self.checkpoints_dir):
            if folder != self.path and entry_kind(folder):
                continue  # reported as an entry of the run folder; never listed through
            try:
                with os.scandir(folder) as it:
                    for e in it:
                        kind = entry_kind(e.path)
                        if kind:
                            found.append(f"{e.path} is {kind}")
            except (NotADirectoryError, FileNotFoundError):
                pass
            except OSError as e:
                found.append(f"{folder} cannot be listed: {e.strerror}")
        return found

    # control (the one file the dashboard writes)
    def read_control(self) -> dict:
        return self._read_object(self.control_path)

    def write_control(self, **changes) -> dict:
        """Merge ``changes`` (state='paused'|'running'|'stopped', lr_g, lr_d, d_steps,
        g_steps) into control.json.

        The read-merge-write runs under a lock: two sessions changing settings at the same moment
        must not both write the same ``seq`` (the worker would apply only the first)."""
        with file_lock(self.path / ".control.lock", root=self.path):
            ctl = self.read_control()
            ctl.update({k: v for k, v in changes.items() if v is not None})
            ctl["seq"] = control_seq(ctl) + 1
            ctl["written"] = time.time()
            atomic_write_json(self.control_path, ctl, root=self.path)
        return ctl

    def remove_leftovers(self) -> list[str]:
        """Delete what a killed worker can leave behind: temporary files of interrupted atomic
        writes and checkpoint tensor files whose JSON was never written. Only the worker calls
        this, before it writes anything (control.json's temporary files are left alone: the
        dashboard may be writing one). Only regular files are removed."""
        candidates = [self.path / n for n in list_files(self.path)
                      if any(n.startswith(f".{name}.") and n.endswith(".tmp")
                             for name in ("status.json", "config.json", "metrics.jsonl"))]
        for d in (self.samples_dir, self.checkpoints_dir):
            names = list_files(d, root=self.path)
            candidates += [d / n for n in names if n.startswith(".") and n.endswith(".tmp")]
            if d == self.checkpoints_dir:
                candidates += [d / n for n in names if n.endswith(".safetensors") and not n.startswith(".")
                               and n[:-len(".safetensors")] + ".json" not in names]
        removed = []
        for p in candidates:
            try:
                if unlink_entry(p, root=self.path):
                    removed.append(p.name)
            except (OSError, RunError):
                pass
        return removed

    def size_bytes(self) -> int:
        total = 0
        for dirpath, _, files in os.walk(self.path):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        return total

    def delete(self) -> None:
        shutil.rmtree(self.path)  # refuses a link as the run folder, never follows links inside it


JOB_STATES = ("queued", "removed", "starting", "lost")
HOST = socket.gethostname()  # a worker's pid means something only on the machine it runs on


def _with_job(status: dict | None, job: dict) -> dict:
    """The status a reader sees: the worker's, or what the job manager did since the worker last wrote.

    A worker started by the manager ('starting') counts as running while its process lives; once it
    ends without a word (a refused resume, a crash before training) the worker's status stands, and a
    run that never had one reads as interrupted."""
    base = status if status is not None else {"state": "queued", "epoch": 0, "step": 0}
    if not job:
        return base
    state, at = job["state"], float(job["at"])
    updated = status.get("updated") if status is not None else None
    if status is not None and _real(updated) and float(updated) > at:
        return status                       # the worker wrote after the manager
    if state == "queued":
        return {**base, "state": "queued", "epochs": job.get("epochs", base.get("epochs")),
                "queued_at": job.get("queued_at", at)}
    if state == "removed":
        return {**base, "state": "stopped", "message": N_("removed from the queue")}
    if state == "lost":   # the cluster's job ended (failed, stopped, or forgotten) while the run was live
        return {**base, "state": "interrupted",
                "message": N_("the training job on the cluster ended before the run did; resume it to "
                              "continue from its last checkpoint")}
    pid = job.get("pid")
    if pid_alive(pid):
        return {**base, "state": "running", "pid": pid, "heartbeat": at, "message": N_("starting"),
                **({"device": job["device"]} if isinstance(job.get("device"), str) else {})}
    if status is not None:
        return status
    return {**base, "state": "interrupted",
            "message": N_("the training process ended before it wrote anything; see worker.out in the run folder")}


def control_seq(ctl: dict) -> int:
    """control.json's change counter as a whole number (0 when missing or edited into nonsense)."""
    seq = ctl.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, (int, float, str)):
        return 0
    try:
        seq = int(seq)
    except (ValueError, OverflowError):
        return 0
    return seq if 0 <= seq < 2**53 else 0


def _status_problem(status) -> str:
    """Why a parsed status.json cannot be used as one ('' when it can): readers do arithmetic on its
    numbers and show its texts, so each known field must have its type."""
    if not isinstance(status, dict):
        return "is not a JSON object"
    for key in ("epoch", "step", "epochs", "steps_per_epoch", "batch_size", "epoch_in_progress"):
        if status.get(key) is not None and not _whole(status[key]):
            return f"has '{key}' {str(status[key])[:40]!r}, not a whole number"
    for key in ("heartbeat", "started", "updated", "images_per_s", "eta_s", "queued_at"):
        if not _number(status.get(key)):
            return f"has '{key}' {str(status[key])[:40]!r}, not a number"
    for key in ("state", "message", "error", "device", "host"):
        if status.get(key) is not None and not isinstance(status[key], str):
            return f"has '{key}' {str(status[key])[:40]!r}, not text"
    return ""


def _whole(v, hi: int = 2**53) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < hi


# Fields of a metrics line that readers do arithmetic on: a number or null, nothing else.
_NUMBER_FIELDS = ("loss_d", "loss_g", "d_real", "d_fake", "score_real", "score_fake", "grad_norm_d",
                  "grad_norm_g", "images_per_s", "epoch_seconds", "time", "diversity", "class_diversity",
                  "old", "new")
_TEXT_FIELDS = ("type", "field", "kind", "message", "advice")


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _number(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _metrics_record(line: bytes) -> dict | None:
    """One metrics line as a record, or None when it is not one: torn, not JSON, not an object, an
    epoch or step that is not a whole number, or a field of the wrong type (a loss that is text, a
    quality that is not an object): a line edited by hand must not break a reader's arithmetic."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if (not isinstance(rec, dict) or not all(_whole(rec[k]) for k in ("epoch", "step") if k in rec)
            or not all(_number(rec[k]) for k in _NUMBER_FIELDS if k in rec)
            or not all(isinstance(rec[k], str) for k in _TEXT_FIELDS if k in rec)
            or not isinstance(rec.get("quality", {}), (dict, type(None)))):
        return None
    return rec


# ----------------------------------------------------------------------------- liveness
def pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as dead
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(") ", 1)[1].startswith("Z"):
                return False
    except (OSError, IndexError):
        pass
    return True


def effective_state(status: dict, now: float | None = None) -> str:
    """The stored state, except that a running/paused run with a dead worker or a stale heartbeat
    is reported as 'interrupted' (it can be resumed from its last checkpoint). The worker's pid is
    asked about only on the machine it runs on (its status names the ``host``): a worker on another
    node of a cluster is judged by its heartbeat here, and by the cluster's job status in the job
    manager (playground/jobs.py)."""
    state = status.get("state", "queued")
    if state not in ("running", "paused"):
        return state if state in STATES else "failed"
    now = time.time() if now is None else now
    try:
        beat = float(status.get("heartbeat") or 0.0)
    except (TypeError, ValueError):
        beat = 0.0
    here = status.get("host") in (None, HOST)
    if (here and not pid_alive(status.get("pid"))) or now - beat > HEARTBEAT_STALE_S:
        return "interrupted"
    return state


def list_runs(root: str | os.PathLike) -> list[Run]:
    """Every run folder directly inside ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    with os.scandir(root) as it:  # a link in the runs folder is not a run of it
        for e in it:
            if e.is_dir(follow_symlinks=False) and _RUN_ID.fullmatch(e.name):
                try:
                    info = os.lstat(os.path.join(e.path, "config.json"))
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    runs.append((info.st_mtime, Run(Path(e.path))))
    return [r for _, r in sorted(runs, key=lambda t: t[0], reverse=True)]


def terminate(pid: int, sig=signal.SIGTERM) -> bool:
    """Signal a worker's process group (it runs in its own session); False if it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False
