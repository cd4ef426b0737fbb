"""Slowed and failing run-folder writes, for the crash and OS-error campaigns.

Every run-folder write goes through playground.runs (``atomic_write_bytes`` for whole files,
``Run.append_metrics`` for metrics.jsonl), and both open the file they write with ``os.fdopen``.
``hooked_writes`` gives playground.runs an ``os`` whose ``fdopen`` returns that very file, only
with its ``write`` passed to a hook that knows which file is written (its final name, not the
temporary one) and which kind of write it is. The product's write path is unchanged: the hook
sees the bytes it would write and calls the real file's ``write``.

A worker slowed this way, as the crash campaign starts it::

    python -m tests.support.slow_writes checkpoint:0.5,grid:0.3 train --run-dir <run> --quiet

is ``python -m playground train --run-dir <run> --quiet`` whose every checkpoint write pauses
half-way for 0.5 s and every grid write for 0.3 s, so a SIGKILL can land inside a write.
"""

from __future__ import annotations

import os
import re
import runpy
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from playground import runs

WRITE_KINDS = ("checkpoint", "snapshot", "grid", "status", "config", "metrics")
_TEMPORARY = re.compile(r"^\.(.+)\.[0-9a-f]{8}\.tmp$")  # atomic_write_bytes's ".<name>.<hex>.tmp"


def write_kind(path: str | os.PathLike) -> str:
    """Which kind of run-folder write ``path`` is: one of WRITE_KINDS, or "other"."""
    path = Path(path)
    if path.parent.name == "checkpoints":
        return "snapshot" if path.name.startswith("snapshot_") else "checkpoint"
    if path.parent.name == "samples":
        return "grid"
    return {"status.json": "status", "config.json": "config", "metrics.jsonl": "metrics"}.get(path.name, "other")


def delay_for(spec: str, path: str | os.PathLike) -> float:
    """Seconds to pause half-way through writing ``path`` under ``spec`` ("kind:seconds,..."):
    0 unless ``spec`` names this kind of write; at most 30."""
    kind = write_kind(path)
    for part in (spec or "").split(","):
        name, _, seconds = part.partition(":")
        if name.strip() == kind:
            try:
                return min(max(float(seconds), 0.0), 30.0)
            except ValueError:
                return 0.0
    return 0.0


def written_path(fd: int) -> Path:
    """The file an open descriptor writes, by its final name (a temporary file of
    atomic_write_bytes is named as the file it will replace)."""
    path = Path(os.readlink(f"/proc/self/fd/{fd}"))
    m = _TEMPORARY.match(path.name)
    return path.with_name(m.group(1)) if m else path


class _HookedFile:
    """A file object whose ``write`` goes through ``hook(file, path, data)``."""

    def __init__(self, f, path: Path, hook):
        self._f, self._path, self._hook = f, path, hook

    def write(self, data):
        return self._hook(self._f, self._path, data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._f, name)


class _OsWithHookedFdopen:
    """``os`` as playground.runs sees it while hooked: all of it, with ``fdopen`` wrapped."""

    def __init__(self, hook):
        self._hook = hook

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        path = written_path(fd)
        return _HookedFile(os.fdopen(fd, *args, **kwargs), path, self._hook)


@contextmanager
def hooked_writes(hook):
    """While inside, every file playground.runs writes goes through ``hook(file, path, data)``
    (``path``: the file's final name), which must write ``data`` to ``file`` or raise."""
    runs.os = _OsWithHookedFdopen(hook)
    try:
        yield
    finally:
        runs.os = os


def write_slowly(f, data, delay: float):
    """Write the first half of ``data``, flush, sleep ``delay`` seconds, write the rest."""
    if delay:
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        time.sleep(delay)
        data = data[half:]
    return f.write(data)


@contextmanager
def slow_writes(spec: str):
    """Writes of the kinds ``spec`` names ("kind:seconds,...") pause half-way for that long."""
    with hooked_writes(lambda f, path, data: write_slowly(f, data, delay_for(spec, path))):
        yield


def main(argv: list[str]) -> None:
    """``slow_writes SPEC ARGS...``: ``python -m playground ARGS...`` with the writes SPEC names slowed."""
    spec, *args = argv
    sys.argv = ["playground", *args]
    with slow_writes(spec):
        runpy.run_module("playground", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
