"""Uploading a zip of images for the 'folder' dataset, safely on a shared server.

The zip is stored as it came, under ``<runs>/_uploads/<random id>/images.zip``, and checked with
the data layer's :func:`playground.data.check_zip` limits (no ``..`` or absolute member paths, no
symlinks, bounded member count and unpacked size, at least one image). It is never extracted: the
training worker decodes members in memory. A rejected zip is deleted at once. The run's
``data_dir`` points at the upload's own file, so no typed server path ever reaches the trainer.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from playground.data import DataError
from playground.data.archive import scan_zip
from playground.i18n import Message, msg
from playground.ui.i18n import shown as shown_msg
from playground.ui.i18n import tr, trn

UPLOADS_DIR = "_uploads"     # inside the runs folder; not a run id, so never listed as a run
ZIP_NAME = "images.zip"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024   # matches server.maxUploadSize in .streamlit/config.toml
_CHUNK = 1 << 20


class UploadError(ValueError):
    """The upload cannot be used; the message is meant for the learner."""


@dataclass
class SavedUpload:
    path: Path                      # the stored zip (inside <runs>/_uploads/<id>/)
    name: str                       # the file name the learner uploaded (for display only)
    n_images: int
    skipped: list[str] = field(default_factory=list)   # members that are not images

    @property
    def summary(self) -> str:
        """What was found, in the page's language, every file name escaped (Markdown)."""
        found = trn("{name}: {n} image found.", "{name}: {n} images found.", self.n_images, name=self.name)
        if not self.skipped:
            return found
        few = ", ".join(self.skipped[:3])
        n = len(self.skipped)
        if n > 3:
            return found + " " + trn("{n} other file will be skipped ({few} and {more} more).",
                                     "{n} other files will be skipped ({few} and {more} more).", n,
                                     few=few, more=n - 3)
        return found + " " + trn("{n} other file will be skipped ({few}).",
                                 "{n} other files will be skipped ({few}).", n, few=few)


def save_upload(name: str, stream, runs_root: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> SavedUpload:
    """Store the zip read from ``stream`` (a binary file object) and check it.

    Returns a SavedUpload; raises UploadError (and removes what was stored) when the file is too
    large, not a zip, unsafe, or holds no images."""
    shown = Path(str(name or "upload.zip")).name[:120]
    if not shown.lower().endswith(".zip"):
        raise UploadError(msg("{name} is not a .zip file: pack your images into a zip archive first", name=shown))
    folder = Path(runs_root) / UPLOADS_DIR / secrets.token_hex(8)
    folder.mkdir(parents=True)
    path = folder / ZIP_NAME
    try:
        written = 0
        with open(path, "wb") as out:
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadError(msg("{name} is larger than the {mb} MB upload limit; use fewer "
                                          "or smaller images", name=shown, mb=max_bytes // (1024 * 1024)))
                out.write(chunk)
        try:
            images, others = scan_zip(path)
        except DataError as e:
            # The data layer names the stored path; the learner knows the file by its own name.
            m = e.args[0] if e.args else str(e)
            if isinstance(m, Message) and "path" in m.values:
                raise UploadError(Message(m.msgid, **{**m.values, "path": shown})) from None
            raise UploadError(str(e).replace(str(path), shown)) from None
        return SavedUpload(path=path, name=shown, n_images=len(images), skipped=list(others))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def zip_uploader(runs_root: Path, key: str = "upload_zip") -> SavedUpload | None:
    """A file uploader for a zip of images; shows what was found or why it was rejected.

    Each uploaded file is stored and checked once per session (keyed by Streamlit's file id)."""
    up = st.file_uploader(tr("Upload a zip of your images"), type=["zip"], key=key,
                          help=tr("A .zip of .png/.jpg images; one subfolder per class gives the run "
                                  "labels. Images are resized and centre-cropped to the image size."))
    if up is None:
        return None
    done = st.session_state.setdefault("_uploads", {})
    if up.file_id not in done:
        try:
            done[up.file_id] = save_upload(up.name, up, runs_root)
        except UploadError as e:
            done[up.file_id] = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
        except OSError as e:
            done[up.file_id] = msg("The upload could not be stored on the server ({reason}).",
                                   reason=e.strerror or str(e))
    result = done[up.file_id]
    if isinstance(result, str):
        st.error(tr("This zip cannot be used.") + " " + shown_msg(result))
        return None
    if not result.path.is_file():   # removed on the server since; ask for it again
        del done[up.file_id]
        st.warning(tr("The uploaded zip is no longer on the server; please upload it again."))
        return None
    st.success(result.summary)
    return result
