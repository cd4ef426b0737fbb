"""Safe reading of a learner's uploaded .zip of images (the dashboard may run on a shared server).

Nothing is ever extracted to disk: members are read into memory one at a time and decoded there,
so a hostile member name (``../evil.png``, ``/etc/x``) or a symlink member cannot write or point
anywhere. The zip is still rejected whole when it carries such a member, because a zip built to
escape is not a zip of training images. Sizes come from the central directory; Python's zipfile
never returns more than the declared size and checks the CRC, so a lying header shows up as a
read error (counted as corrupt), not as an unbounded read.

The limits are module constants so a deployment (or a test) can change them.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
from pathlib import Path, PurePosixPath

from ..i18n import msg
from .common import UploadRefused

MAX_ZIP_ENTRIES = 20_000                 # members, directories included
MAX_ZIP_TOTAL_BYTES = 1 << 30            # 1 GiB, sum of the declared uncompressed sizes
MAX_COMPRESSION_RATIO = 200              # a member over this ratio ...
RATIO_CHECK_MIN_BYTES = 10 * (1 << 20)   # ... and over 10 MiB uncompressed is called a zip bomb
# The central directory is checked before Python's zipfile parses it: a 200 MB upload can list two
# million members, which costs zipfile a gigabyte of memory and half a minute before the entry limit
# above is ever looked at. 256 bytes per entry leaves room for long names and extra fields.
MAX_CENTRAL_DIRECTORY_BYTES = MAX_ZIP_ENTRIES * 256

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Files that operating systems leave in folders; skipped without being counted.
JUNK_NAMES = {"thumbs.db", "desktop.ini"}


def is_silent_skip(relpath: str) -> bool:
    """True for macOS resource forks (``__MACOSX/``), dotfiles/dot-folders and OS junk files."""
    parts = PurePosixPath(relpath).parts
    return (not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)
            or parts[-1].lower() in JUNK_NAMES)


def is_image_name(relpath: str) -> bool:
    return relpath.lower().endswith(IMAGE_EXTENSIONS)


def check_zip(path: str | Path) -> list[str]:
    """Validate a zip of images without extracting it; return the member names that would be read.

    Raises UploadRefused (a DataError) naming the zip (and the member, where one is to blame) when
    the file is not a zip, is empty, has more than MAX_ZIP_ENTRIES entries, unpacks to more than
    MAX_ZIP_TOTAL_BYTES, has a member with an absolute path, a ``..`` component or a symlink, a
    member that expands more than MAX_COMPRESSION_RATIO:1 to over RATIO_CHECK_MIN_BYTES, or holds
    no image files at all.
    """
    images, _ = scan_zip(Path(path))
    return [info.filename for info in images]


def scan_zip(path: Path) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """Validate the zip at ``path``: (image members to read, names of other files to count as not_image).

    Directories, ``__MACOSX/`` and dotfiles are in neither list.
    """
    if not path.exists():
        raise UploadRefused(f"{path} does not exist")
    if path.is_dir():
        raise UploadRefused(msg("{path} is a folder, not a zip archive", path=str(path)))
    if not path.is_file():   # a FIFO or a device would block or never end: never opened
        raise UploadRefused(msg("{path} is not a regular file (a pipe, a device or a socket), not a zip archive",
                                path=str(path)))
    try:
        declared = _declared_directory(path)
    except OSError as e:
        raise UploadRefused(f"{path} cannot be read: {e.strerror}") from None
    if declared is not None:
        entries, directory_bytes = declared
        if entries > MAX_ZIP_ENTRIES:
            raise UploadRefused(msg("{path} has {n} entries; the limit is {limit}. Use fewer images (a few "
                                "thousand are plenty for a GAN).", path=str(path), n=entries, limit=MAX_ZIP_ENTRIES))
        if directory_bytes > MAX_CENTRAL_DIRECTORY_BYTES:
            raise UploadRefused(f"{path} has a table of contents of {_size(directory_bytes)} (the limit is "
                            f"{_size(MAX_CENTRAL_DIRECTORY_BYTES)}): it lists far more members than "
                            f"{MAX_ZIP_ENTRIES:,}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UploadRefused(msg("{path} is not a zip archive (or it is damaged)", path=str(path))) from None
    if not infos:
        raise UploadRefused(msg("{path} is an empty zip archive: it holds no files", path=str(path)))
    if len(infos) > MAX_ZIP_ENTRIES:
        raise UploadRefused(msg("{path} has {n} entries; the limit is {limit}. Use fewer images (a few "
                            "thousand are plenty for a GAN).", path=str(path), n=len(infos), limit=MAX_ZIP_ENTRIES))
    images, others, total = [], [], 0
    for info in infos:
        name = info.filename
        _check_member(path, info)
        total += info.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise UploadRefused(msg("{path} unpacks to more than {limit} (the limit), reached at member '{name}'",
                                path=str(path), limit=_size(MAX_ZIP_TOTAL_BYTES), name=name))
        norm = name.replace("\\", "/")
        if info.is_dir() or norm.endswith("/") or is_silent_skip(norm):
            continue
        if is_image_name(norm):
            images.append(info)
        else:
            others.append(name)
    if not images:
        kinds = ", ".join(IMAGE_EXTENSIONS)
        if others:
            raise UploadRefused(msg("{path} contains no images ({kinds}); it has {n} other files ({few})",
                                path=str(path), kinds=kinds, n=len(others), few=_few(others)))
        raise UploadRefused(msg("{path} contains no images ({kinds})", path=str(path), kinds=kinds))
    return images, others


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    """Reject the zip over one member; the reason names the member."""
    name = info.filename
    # Windows tools sometimes write backslashes; treat them as separators for the checks.
    norm = name.replace("\\", "/")
    where = dict(path=str(path), name=name)
    if "\x00" in name:
        raise UploadRefused(msg("{path} was rejected: member '{name}' has a NUL character in its name", **where))
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise UploadRefused(msg("{path} was rejected: member '{name}' has an absolute path", **where))
    if ".." in norm.split("/"):
        raise UploadRefused(msg("{path} was rejected: member '{name}' has a '..' component that points outside "
                            "the archive", **where))
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UploadRefused(msg("{path} was rejected: member '{name}' is a symbolic link", **where))
    if (info.file_size > RATIO_CHECK_MIN_BYTES
            and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
        ratio = info.file_size / max(info.compress_size, 1)
        raise UploadRefused(msg("{path} was rejected: member '{name}' expands {ratio}:1 to {size}, which looks "
                            "like a zip bomb (limit {limit}:1 above {above})", ratio=round(ratio),
                            size=_size(info.file_size), limit=MAX_COMPRESSION_RATIO,
                            above=_size(RATIO_CHECK_MIN_BYTES), **where))


def _declared_directory(path: Path) -> tuple[int, int] | None:
    """(entry count, central directory bytes) from the zip's end records, read without parsing
    the directory; None when there is no end record (zipfile then reports "not a zip")."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        tail_len = min(size, 22 + 0xFFFF + 20)   # end record + longest comment + zip64 locator
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        i = tail.rfind(b"PK\x05\x06")
        if i < 0 or len(tail) - i < 22:
            return None
        entries, directory_bytes = struct.unpack("<4s4H2LH", tail[i:i + 22])[4:6]
        if i >= 20 and tail[i - 20:i - 16] == b"PK\x06\x07":   # zip64: the real counts are elsewhere
            offset = struct.unpack("<4sLQL", tail[i - 20:i])[2]
            if offset < size:
                f.seek(offset)
                rec = f.read(56)
                if len(rec) == 56 and rec[:4] == b"PK\x06\x06":
                    entries, directory_bytes = struct.unpack("<4sQ2H2L4Q", rec)[7:9]
    return entries, directory_bytes


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The bytes of one member, in memory; raises on a CRC error or a truncated member."""
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"member '{info.filename}' is not the size its header declares")
    return data


def _size(n: int) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:g} {unit}"
    return f"{n} bytes"


def _few(names: list[str], k: int = 3) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k:,} more" if len(names) > k else "")
