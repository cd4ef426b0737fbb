"""Safe access to the files of a run folder: regular files and real folders inside it, nothing else.

Every read, write, prune and delete of a run-folder file goes through these helpers (playground/runs.py
builds the atomic writes and the Run methods on them). They act only on regular files and real
folders inside the folder they are given: each folder on the way is opened with O_NOFOLLOW (a
symlinked ``checkpoints/`` is refused, not followed out of the run), the entry itself is checked with
lstat before it is opened (a FIFO or a device is never opened: opening one can block forever or, for
/dev/zero, read without end), and reads stop at a limit whatever ``stat`` says. A refusal is an
UnsafeEntry naming the entry and what it is.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, unreadable, or not a run)."""


MAX_JSON_BYTES = 1 << 20            # config.json, status.json, control.json, label.json
MAX_METRICS_BYTES = 512 << 20       # metrics.jsonl: years of logging at the default rate


class UnsafeEntry(RunError):
    """An entry of a run folder that is not a regular file or folder really inside it."""


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return what
    return "not a regular file"


def _refusal(path, mode: int) -> UnsafeEntry:
    return UnsafeEntry(f"{path} is {_kind(mode)}, not a regular file inside the run folder: refused "
                       "(nothing was read from it or written through it)")


def relative_parts(path: Path, root: Path) -> tuple[str, ...]:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        raise UnsafeEntry(f"{path} is not inside {root}: refused") from None
    if not parts or any(p in ("..", ".") for p in parts):
        raise UnsafeEntry(f"{path} is not an entry inside {root}: refused")
    return parts


def open_dir(root: str | os.PathLike, parts: tuple[str, ...] = ()) -> int:
    """A file descriptor of the folder ``root/parts…``; every part must be a real folder (no symlink).
    ``root`` itself is the caller's choice and may be reached through a link."""
    root = Path(root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts):
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except OSError:
                info = None
            if info is not None and not stat.S_ISDIR(info.st_mode):
                raise UnsafeEntry(f"{root.joinpath(*parts[:i + 1])} is {_kind(info.st_mode)}, not a folder "
                                  "inside the run folder: refused")
            new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = new
    except BaseException:
        os.close(fd)
        raise
    return fd


def _regular_entry(path: str | os.PathLike, root: str | os.PathLike | None):
    """(path, its name, an fd of its real folder inside ``root``, its lstat or None when missing);
    UnsafeEntry when the entry exists and is not a regular file. The caller closes the fd."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    parts = relative_parts(path, root)
    dfd = open_dir(root, parts[:-1])
    try:
        info = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        info = None
    except BaseException:
        os.close(dfd)
        raise
    if info is not None and not stat.S_ISREG(info.st_mode):
        os.close(dfd)
        raise _refusal(path, info.st_mode)
    return path, parts[-1], dfd, info


def open_entry(path: str | os.PathLike, flags: int = os.O_RDONLY, *, root: str | os.PathLike | None = None,
               mode: int = 0o644) -> int:
    """Open the regular file ``path`` inside ``root`` (default: its own folder) and return its fd.

    UnsafeEntry, naming the entry, when it or a folder on the way is a symlink, a FIFO, a device, a
    socket or a folder; FileNotFoundError as usual when it is missing (and O_CREAT is not given)."""
    path, name, dfd, info = _regular_entry(path, root)
    try:
        if info is None and not flags & os.O_CREAT:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode, dir_fd=dfd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):  # replaced by a link/FIFO since
                raise UnsafeEntry(f"{path} is not a regular file inside the run folder: refused") from None
            raise
    finally:
        os.close(dfd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refusal(path, info.st_mode)
    return fd


def read_bytes(path: str | os.PathLike, limit: int, *, root: str | os.PathLike | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (RunError beyond)."""
    fd = open_entry(path, root=root)
    try:
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise RunError(f"{path} is larger than {limit:,} bytes: too large for what it should hold")
    return b"".join(chunks)


def parse_json(data: bytes, path) -> object:
    """json.loads with every way a hand-edited file can fail turned into RunError naming the file
    (a deeply nested document raises RecursionError, not a JSON error)."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RunError(f"{path} cannot be read: {str(e)[:200]}") from None


def entry_kind(path: str | os.PathLike) -> str | None:
    """None for a regular file, folder or missing entry; else what it is ("a symbolic link", …)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else _kind(mode)


def unlink_entry(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> bool:
    """Delete the regular file ``path`` inside ``root``: False when it is missing; UnsafeEntry when
    it, or a folder on the way, is anything else (a link is never followed, and not removed either)."""
    path, name, dfd, info = _regular_entry(path, root)
    try:
        if info is None:
            return False
        try:
            os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(dfd)


def list_files(folder: str | os.PathLike, *, root: str | os.PathLike | None = None) -> list[str]:
    """Names of the regular files directly in ``folder`` (a real folder inside ``root``); [] when the
    folder is missing or is not a real folder (symlinks, FIFOs and devices are never listed)."""
    folder = Path(folder)
    try:
        fd = open_dir(root if root is not None else folder,
                      relative_parts(folder, Path(root)) if root is not None else ())
    except (OSError, RunError):
        return []
    try:
        with os.scandir(fd) as it:
            return [e.name for e in it if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    finally:
        os.close(fd)
