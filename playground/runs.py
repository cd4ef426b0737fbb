"""The run folder: the one contract between the trainer, the dashboard, the CLI and the tests.

Layout (format version 1; see README "Run folder format")::

    <run>/config.json      {"format_version", "config": TrainConfig, "data": DataInfo | null, "model": ModelSpec | null}
    <run>/status.json      state, epoch, step, pid, heartbeat, message, error (atomic writes)
    <run>/metrics.jsonl    append-only, one JSON object per line ("step", "epoch", "change", "event")
    <run>/control.json     written by the dashboard/CLI: desired state and live settings
    <run>/samples/epoch_000.png   fixed-noise grid per epoch (toys: also epoch_000.npz arrays)
    <run>/checkpoints/     safetensors + JSON (train_epoch_*, snapshot_epoch_*)
    <run>/log.txt          the worker's human-readable log

The training worker is the only writer of everything but control.json. Every whole-file write is
atomic (temporary file, flush, fsync, rename); metrics.jsonl is append-only and readers skip a torn
last line.

Test-only hook: ``GAN_PLAYGROUND_TEST_DELAY_WRITE="checkpoint:0.5,grid:0.3"`` makes every write of
that kind (checkpoint, snapshot, grid, status, config, metrics) pause half-way for that many seconds,
so the crash campaign (playground/reliability.py) can SIGKILL a worker inside a write. It is read in
one place (``injected_write_delay``) and does nothing when the variable is unset.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import FORMAT_VERSION, ConfigError, TrainConfig

STATES = ("queued", "running", "paused", "finished", "stopped", "failed", "interrupted")
ACTIVE_STATES = ("queued", "running", "paused")
HEARTBEAT_STALE_S = 90.0  # a live worker beats at least every few seconds, even when paused

# Set by the job manager for a worker it starts: the manager's pid, which writes the claim the worker
# waits for (see worker._await_claim).
LAUNCHER_ENV = "GAN_PLAYGROUND_LAUNCHER"
JOB_SLOTS_ENV = "GAN_PLAYGROUND_JOB_SLOTS"  # the job limit, passed to workers: "auto" threads share the cores

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_SAMPLE = re.compile(r"^epoch_(\d{3,5})\.png$")
_SNAPSHOT = re.compile(r"^snapshot_epoch_(\d{4,5})\.json$")


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, unreadable, or not a run)."""


# ----------------------------------------------------------------------------- test-only delay hook
TEST_DELAY_ENV = "GAN_PLAYGROUND_TEST_DELAY_WRITE"
WRITE_KINDS = ("checkpoint", "snapshot", "grid", "status", "config", "metrics")


def write_kind(path: str | os.PathLike) -> str:
    """Which kind of run-folder write ``path`` is (for the test-only delay hook and the campaigns)."""
    path = Path(path)
    if path.parent.name == "checkpoints":
        return "snapshot" if path.name.startswith("snapshot_") else "checkpoint"
    if path.parent.name == "samples":
        return "grid"
    return {"status.json": "status", "config.json": "config", "metrics.jsonl": "metrics"}.get(path.name, "other")


def injected_write_delay(path: str | os.PathLike) -> float:
    """Seconds to pause half-way through writing ``path``: 0 unless the test-only variable
    GAN_PLAYGROUND_TEST_DELAY_WRITE ("kind:seconds,...") names this kind of write."""
    spec = os.environ.get(TEST_DELAY_ENV)
    if not spec:
        return 0.0
    kind = write_kind(path)
    for part in spec.split(","):
        name, _, seconds = part.partition(":")
        if name.strip() == kind:
            try:
                return min(max(float(seconds), 0.0), 30.0)
            except ValueError:
                return 0.0
    return 0.0


def _write_maybe_slowly(f, data: bytes, delay: float) -> None:
    if delay:
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        time.sleep(delay)
        data = data[half:]
    f.write(data)


@contextmanager
def file_lock(path: str | os.PathLike):
    """An exclusive advisory lock on ``path`` (created if needed), released on exit or process death."""
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- atomic files
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    delay = injected_write_delay(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_maybe_slowly(f, data, delay)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path: str | os.PathLike):
    """Parse a JSON file; RunError with the file's name when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{path} cannot be read: {e}") from None


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

    # config
    def create(self, cfg: TrainConfig) -> None:
        """Make the folder with a validated config and a 'queued' status (does not overwrite)."""
        cfg.validate()
        self.path.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            raise RunError(f"{self.path} already holds a run; use --resume to continue it")
        self.samples_dir.mkdir(exist_ok=True)
        self.checkpoints_dir.mkdir(exist_ok=True)
        self.write_config(cfg)
        self.write_status(state="queued", epoch=0, step=0, epochs=cfg.epochs)

    def write_config(self, cfg: TrainConfig, data: dict | None = None, model: dict | None = None) -> None:
        atomic_write_json(self.config_path, {"format_version": FORMAT_VERSION, "config": cfg.to_dict(),
                                             "data": data, "model": model})

    def read_config_doc(self) -> dict:
        doc = read_json(self.config_path)
        if not isinstance(doc, dict) or "config" not in doc:
            raise RunError(f"{self.config_path} is not a GAN Playground config (no 'config' entry)")
        if doc.get("format_version") != FORMAT_VERSION:
            raise RunError(f"{self.config_path} has format version {doc.get('format_version')!r}; "
                           f"this version of the app reads version {FORMAT_VERSION}")
        return doc

    def read_config(self) -> TrainConfig:
        doc = self.read_config_doc()
        try:
            return TrainConfig.from_dict(doc["config"]).validate()
        except ConfigError as e:
            raise RunError(f"{self.config_path} holds an invalid config: {e}") from None

    # status
    def read_status(self) -> dict:
        """The status, or a synthesised 'queued' one when the worker has not written it yet.

        A status.json that exists but cannot be read (edited by hand, a damaged disk) reads as
        'failed', never as 'queued': a queued run would be started again from scratch."""
        try:
            st = read_json(self.status_path)
        except RunError as e:
            if not self.status_path.exists():
                return {"state": "queued", "epoch": 0, "step": 0}
            msg = f"{e}; resume the run to continue from its last checkpoint"
            return {"state": "failed", "epoch": 0, "step": 0, "error": msg, "message": msg}
        if not isinstance(st, dict):
            msg = f"{self.status_path} is not a JSON object; resume the run to continue from its last checkpoint"
            return {"state": "failed", "epoch": 0, "step": 0, "error": msg, "message": msg}
        return st

    def write_status(self, **fields) -> dict:
        st = {"format_version": FORMAT_VERSION, "updated": time.time(), **fields}
        atomic_write_json(self.status_path, st)
        return st

    def write_status_in_place(self, **fields) -> dict:
        """Last resort when the disk is full and no new file can be made: overwrite the existing
        status.json in place (compact JSON, a few hundred bytes, so it reuses the file's block).
        Not atomic; the worker uses it only for its final 'failed' status."""
        st = {"format_version": FORMAT_VERSION, "updated": time.time(), **fields}
        data = json.dumps(st, allow_nan=False).encode() + b"\n"
        fd = os.open(self.status_path, os.O_WRONLY)  # no O_CREAT: only an existing file is reused
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        return st

    def state(self) -> str:
        """The state the dashboard should show: a 'running' run whose worker is gone is 'interrupted'."""
        return effective_state(self.read_status())

    # metrics
    def append_metrics(self, records: list[dict]) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, allow_nan=True) + "\n" for r in records).encode()
        delay = injected_write_delay(self.metrics_path)
        with open(self.metrics_path, "ab") as f:
            _write_maybe_slowly(f, data, delay)
            f.flush()

    def read_metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        """Records from byte ``offset`` on, and the offset after the last complete line.

        A live poll passes the previous offset and so reads only what is new; a torn last line
        (a worker killed mid-write) is left for the next read, never parsed half.
        """
        try:
            with open(self.metrics_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n")
        if end < 0:
            return [], offset
        out = []
        for line in data[: end + 1].splitlines():
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a line torn by a crash before the last resume; skip it
            if isinstance(rec, dict):
                out.append(rec)
        return out, offset + end + 1

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep only lines of epochs ≤ ``last_epoch`` (used on resume so no epoch repeats)."""
        records, _ = self.read_metrics(0)
        keep = [r for r in records if int(r.get("epoch", 0)) <= last_epoch]
        atomic_write_bytes(self.metrics_path, "".join(json.dumps(r) + "\n" for r in keep).encode())

    # samples and snapshots
    def sample_epochs(self) -> list[int]:
        if not self.samples_dir.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.samples_dir.iterdir() if (m := _SAMPLE.match(p.name)))

    def snapshot_epochs(self) -> list[int]:
        if not self.checkpoints_dir.is_dir():
            return []
        out = []
        for p in self.checkpoints_dir.iterdir():
            m = _SNAPSHOT.match(p.name)
            if m and p.with_suffix(".safetensors").exists():
                out.append(int(m.group(1)))
        return sorted(out)

    # control (the one file the dashboard writes)
    def read_control(self) -> dict:
        try:
            c = read_json(self.control_path)
        except RunError:
            return {}
        return c if isinstance(c, dict) else {}

    def write_control(self, **changes) -> dict:
        """Merge ``changes`` (state='paused'|'running'|'stopped', lr_g, lr_d, d_steps) into control.json.

        The read-merge-write runs under a lock: two sessions changing settings at the same moment
        must not both write the same ``seq`` (the worker would apply only the first)."""
        with file_lock(self.path / ".control.lock"):
            ctl = self.read_control()
            ctl.update({k: v for k, v in changes.items() if v is not None})
            try:
                seq = int(ctl.get("seq", 0))
            except (TypeError, ValueError):
                seq = 0
            ctl["seq"] = seq + 1
            ctl["written"] = time.time()
            atomic_write_json(self.control_path, ctl)
        return ctl

    def remove_leftovers(self) -> list[str]:
        """Delete what a killed worker can leave behind: temporary files of interrupted atomic
        writes and checkpoint tensor files whose JSON was never written. Only the worker calls
        this, before it writes anything (control.json's temporary files are left alone: the
        dashboard may be writing one)."""
        removed = []
        candidates = [p for name in ("status.json", "config.json", "metrics.jsonl")
                      for p in self.path.glob(f".{name}.*.tmp")]
        for d in (self.samples_dir, self.checkpoints_dir):
            if d.is_dir():
                candidates += d.glob(".*.tmp")
        if self.checkpoints_dir.is_dir():
            candidates += [p for p in self.checkpoints_dir.glob("*.safetensors")
                           if not p.with_suffix(".json").exists()]
        for p in candidates:
            try:
                p.unlink()
                removed.append(p.name)
            except OSError:
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
        shutil.rmtree(self.path)


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
    is reported as 'interrupted' (it can be resumed from its last checkpoint)."""
    state = status.get("state", "queued")
    if state not in ("running", "paused"):
        return state if state in STATES else "failed"
    now = time.time() if now is None else now
    try:
        beat = float(status.get("heartbeat") or 0.0)
    except (TypeError, ValueError):
        beat = 0.0
    if not pid_alive(status.get("pid")) or now - beat > HEARTBEAT_STALE_S:
        return "interrupted"
    return state


def list_runs(root: str | os.PathLike) -> list[Run]:
    """Every run folder directly inside ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file()
            and _RUN_ID.fullmatch(p.name)]
    return sorted(runs, key=lambda r: r.config_path.stat().st_mtime, reverse=True)


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
