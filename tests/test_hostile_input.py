"""Hostile input: uploads built to escape, explode or crash the loader; run ids and epochs from the
URL; config and checkpoint files edited by hand; shells and pickles anywhere in the core.

Every hostile zip is built here at the real limits (hand-written zip structures keep the files
small: one compressed block of zeros is shared by many members) and loaded the way a run loads
an upload, from ``<runs>/_uploads/<id>/images.zip``; each must be refused, or its bad members
skipped, with a message that says which member and why, and nothing may appear outside that
upload's folder except the decoded-image cache."""

import ast
import io
import json
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from playground import checkpoint, sampling
from playground.data import DataError, check_zip, load_dataset
from playground.runs import Run, RunError, check_run_id, resolve_run
from playground.outputs import latest_train_checkpoint
from playground.worker import train_run

CORE = Path(__file__).resolve().parent.parent / "playground"


# ----------------------------------------------------------------------------- building hostile files
def png(size=(32, 32), value=128) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but carries (almost) no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">2I5B", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def raw_zip(path: Path, members, declared_entries=None) -> Path:
    """Write a zip by hand. ``members``: (name, stored bytes, crc32, declared size, method) with
    method 0 (stored) or 8 (deflate); zip64 end records when there are over 65,535 members."""
    body, central = bytearray(), bytearray()
    for name, data, crc, size, method in members:
        nb = name.encode()
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(nb), 0)
        body += nb + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data), size,
                               len(nb), 0, 0, 0, 0, 0, offset) + nb
    n = len(members) if declared_entries is None else declared_entries
    tail = b""
    if n > 0xFFFF:
        z64 = len(body) + len(central)
        tail += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), len(body))
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64, 1)
        n = 0xFFFF
    tail += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), len(body), 0)
    path.write_bytes(bytes(body + central + tail))
    return path


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_of(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def symlink_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.png", png())
        info = zipfile.ZipInfo("cats/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def build(case: str, p: Path) -> tuple[str, str]:
    """Write the hostile upload ``case`` to ``p``; return (which, why) its refusal must name."""
    good = {"a.png": png(), "b.png": png(value=30)}
    if case == "zip_slip":
        zip_of(p, {**good, "../../evil.png": png()})
        return "../../evil.png", "'..' component"
    if case == "zip_slip_backslash":
        zip_of(p, {**good, "..\\..\\evil.png": png()})
        return "evil.png", "'..' component"
    if case == "absolute_path":
        zip_of(p, {**good, "/tmp/gan-playground-evil.png": png()})
        return "/tmp/gan-playground-evil.png", "absolute path"
    if case == "drive_letter":
        zip_of(p, {**good, "C:/Windows/evil.png": png()})
        return "C:/Windows/evil.png", "absolute path"
    if case == "symlink":
        symlink_zip(p)
        return "cats/link.png", "symbolic link"
    if case == "bomb_by_ratio":  # one 16 MiB member of zeros, 16 KiB compressed (1000:1)
        zeros = bytes(16 << 20)
        raw_zip(p, [("a.png", png(), zlib.crc32(png()), len(png()), 0),
                    ("zeros.png", deflated(zeros), zlib.crc32(zeros), len(zeros), 8)])
        return "zeros.png", "zip bomb"
    if case == "bomb_by_total":  # 120 members of 9 MiB (under the ratio check's 10 MiB) = 1.05 GiB
        zeros = bytes(9 << 20)
        block, crc = deflated(zeros), zlib.crc32(zeros)
        raw_zip(p, [(f"z{i:03d}.png", block, crc, len(zeros), 8) for i in range(120)])
        return "'z113.png'", "unpacks to more than 1 GiB"
    if case == "100k_entries":
        raw_zip(p, [(f"{i:06d}.png", b"", 0, 0, 0) for i in range(100_000)])
        return "100,000 entries", "the limit is 20,000"
    if case == "100k_entries_lying_count":  # the end record claims 10 members
        raw_zip(p, [(f"{i:06d}.png", b"", 0, 0, 0) for i in range(100_000)], declared_entries=10)
        return "table of contents", "far more members"
    if case == "empty_zip":
        zip_of(p, {})
        return str(p), "empty zip archive"
    if case == "not_a_zip":
        p.write_bytes(b"this is plain text, renamed to .zip\n" * 50)
        return str(p), "not a zip archive"
    if case == "png_renamed_zip":
        p.write_bytes(png())
        return str(p), "not a zip archive"
    if case == "no_images":
        zip_of(p, {"notes.txt": b"hello", "data.csv": b"1,2"})
        return "notes.txt", "contains no images"
    raise AssertionError(case)


REFUSED = ["zip_slip", "zip_slip_backslash", "absolute_path", "drive_letter", "symlink", "bomb_by_ratio",
           "bomb_by_total", "100k_entries", "100k_entries_lying_count", "empty_zip", "not_a_zip",
           "png_renamed_zip", "no_images"]


def all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def upload(tmp_path):
    """(zip path inside <runs>/_uploads/<id>/, cache dir, the tmp root)"""
    folder = tmp_path / "runs" / "_uploads" / "3f9a"
    folder.mkdir(parents=True)
    return folder / "images.zip", tmp_path / "cache", tmp_path


@pytest.mark.parametrize("case", REFUSED)
def test_hostile_upload_is_refused_naming_member_and_reason(case, upload):
    path, cache, root = upload
    which, why = build(case, path)
    before = all_files(root)
    with pytest.raises(DataError) as checked:
        check_zip(path)                                       # what the dashboard runs on upload
    with pytest.raises(DataError) as loaded:
        load_dataset("folder", data_dir=str(path), image_size=28, channels=1, cache_dir=str(cache))
    for e in (checked.value, loaded.value):
        assert which in str(e) and why in str(e) and str(path) in str(e), str(e)
    assert all_files(root) == before                          # nothing extracted or cached anywhere
    assert not Path("/tmp/gan-playground-evil.png").exists()
    assert not (root / "evil.png").exists() and not (root / "runs" / "evil.png").exists()


@pytest.mark.parametrize("case", ["100k_entries", "100k_entries_lying_count"])
def test_huge_tables_of_contents_are_refused_before_zipfile_parses_them(case, upload, monkeypatch):
    """zipfile builds an object per member before any limit is looked at (two million members in a
    200 MB upload cost a gigabyte); the end records are checked first."""
    path, _, _ = upload
    build(case, path)

    def parse(*a, **k):
        raise AssertionError("zipfile parsed the table of contents")

    monkeypatch.setattr(zipfile, "ZipFile", parse)
    with pytest.raises(DataError, match="limit"):
        check_zip(path)


def test_bad_members_are_skipped_and_counted_by_reason(upload):
    """Corrupt images, non-images, a lying header and decompression bombs are skipped; the rest
    trains. Only the decoded-image cache is written."""
    path, cache, root = upload
    good = png()
    truncated = deflated(good)[:20]
    raw_zip(path, [
        ("cats/1.png", good, zlib.crc32(good), len(good), 0),
        ("cats/2.png", good, zlib.crc32(good), len(good), 0),
        ("dogs/1.png", good, zlib.crc32(good), len(good), 0),
        ("dogs/broken.png", b"not a png at all", zlib.crc32(b"not a png at all"), 16, 0),
        ("dogs/lying.png", truncated, zlib.crc32(good), len(good), 8),     # header lies about the data
        ("dogs/bomb_64mp.png", png_header(8000, 8000), zlib.crc32(png_header(8000, 8000)), len(png_header(8000, 8000)), 0),
        ("dogs/bomb_900mp.png", png_header(30000, 30000), zlib.crc32(png_header(30000, 30000)), len(png_header(30000, 30000)), 0),
        ("cats/readme.txt", b"hi", zlib.crc32(b"hi"), 2, 0),
    ])
    before = all_files(root)
    lines = []
    data = load_dataset("folder", data_dir=str(path), image_size=28, channels=1, cache_dir=str(cache),
                        log=lines.append)
    assert data.info.n == 3 and data.info.class_names == ["cats", "dogs"]
    assert data.info.skipped == {"corrupt": 2, "too_large": 2, "not_image": 1}
    text = "\n".join(lines)
    assert "broken.png" in text and "lying.png" in text and "could not be read as images" in text
    assert "bomb_64mp.png" in text and "bomb_900mp.png" in text and "pixels" in text
    assert "readme.txt" in text and "not images" in text
    new = all_files(root) - before
    assert new and all(f.startswith("cache") for f in new), new


# ----------------------------------------------------------------------------- run ids and epochs from the URL
HOSTILE_IDS = ["../../etc", "..", ".", "", "/etc/passwd", "runs/../x", "a/b", "a\\b", "x" * 121,
               "abc\x00def", "abc\n", "good\n", "-rf", ".hidden", "%2e%2e%2fetc", "a..b", " good", "good ",
               "~root", "$(reboot)", "good;rm -rf x", None, 123, ["good"]]


@pytest.fixture
def roots(tmp_path, monkeypatch):
    runs_root, pre = tmp_path / "runs", tmp_path / "pretrained"
    for root in (runs_root, pre):
        Run(root / "good").create(_cfg())
    outside = tmp_path / "outside"
    Run(outside).create(_cfg())
    (runs_root / "evil").symlink_to(outside)       # a run folder that points outside the root
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(runs_root))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(pre))
    return runs_root


def _cfg(**over):
    from tests.support import reliability
    return reliability.tiny_config(**over)


@pytest.mark.parametrize("run_id", HOSTILE_IDS, ids=repr)
def test_hostile_run_ids_are_rejected(roots, run_id):
    with pytest.raises(RunError):
        check_run_id(run_id)
    with pytest.raises(RunError):
        resolve_run(roots, run_id)
    assert resolve_run(roots, "good").path == (roots / "good").resolve()


def test_run_folder_symlinked_outside_the_root_is_rejected(roots):
    with pytest.raises(RunError, match="not inside"):
        resolve_run(roots, "evil")


@pytest.mark.parametrize("key", ["runs/../../etc", "runs/..", "../runs/good", "/runs/good", "runs//good",
                                 "runs/good/", "pretrained/../runs/good", "runs/good\x00", "runs/good\n",
                                 "etc/passwd", "runs/" + "a" * 500, "runs/evil", "runs/missing",
                                 "home/good", "runs\\good", "", None, 7])
def test_dashboard_rejects_hostile_run_keys(roots, key):
    from playground.ui.common import get_run
    assert get_run(key) is None
    assert get_run("runs/good").run.path == (roots / "good").resolve()
    assert get_run("pretrained/good").readonly


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = Run(tmp_path_factory.mktemp("trained") / "r")
    run.create(_cfg(epochs=1, max_images=32, batch_size=16, quality_samples=0))
    assert train_run(run, echo=False) == 0
    return run


@pytest.mark.parametrize("epoch", ["1", "../1", -1, 10**9, 1.5, None])
def test_snapshot_epochs_are_checked_against_the_folder(trained, epoch):
    run = trained
    if epoch is None:  # "the newest" is the one legitimate non-number
        assert sampling.load_snapshot(run, epoch)[2]["epoch"] == 1
        return
    with pytest.raises(RunError, match="no generator snapshot"):
        sampling.load_snapshot(run, epoch)
    assert sampling.load_snapshot(run, 1)[2]["epoch"] == 1


# ----------------------------------------------------------------------------- files edited by hand
@pytest.mark.parametrize("edit,message", [
    (lambda d: d["config"].update(lr_d=-1), "lr_d"),
    (lambda d: d["config"].update(surprise=1), "surprise"),
    (lambda d: d["config"].update(epochs="many"), "epochs"),
    (lambda d: d["config"].update(dataset="/etc/passwd"), "dataset"),
    (lambda d: d.update(format_version=99), "format version"),
    (lambda d: d.pop("config"), "not a GAN Playground config"),
])
def test_hand_edited_config_is_rejected_with_a_clear_message(tmp_path, edit, message):
    run = Run(tmp_path / "r")
    run.create(_cfg())
    doc = json.loads(run.config_path.read_text())
    edit(doc)
    run.config_path.write_text(json.dumps(doc))
    with pytest.raises(RunError) as e:
        run.read_config()
    assert message in str(e.value) and "config.json" in str(e.value)
    assert train_run(run, echo=False) == 2  # an edited file is bad input: exit 2
    assert message in run.read_status()["error"]


def test_config_json_that_is_not_json(tmp_path):
    run = Run(tmp_path / "r")
    run.create(_cfg())
    run.config_path.write_bytes(b"\xff\xfe{ not json")
    with pytest.raises(RunError, match="config.json cannot be read"):
        run.read_config()


def test_hand_edited_checkpoint_is_rejected_and_resume_skips_it(tmp_path):
    run = Run(tmp_path / "r")
    run.create(_cfg(epochs=2, max_images=32, batch_size=16, quality_samples=0))
    assert train_run(run, echo=False) == 0
    newest = sorted(run.checkpoints_dir.glob("train_step_*.json"))[-1]
    doc = json.loads(newest.read_text())
    doc["epoch"] = 7                                           # "skip ahead"
    newest.write_text(json.dumps(doc))
    with pytest.raises(checkpoint.CheckpointError, match="edited by hand"):
        checkpoint.load(newest.with_suffix(""))
    assert latest_train_checkpoint(run)[1]["epoch"] == 1       # resume falls back to epoch 1
    doc.pop("meta_sha256")
    doc["epoch"] = "7"
    newest.write_text(json.dumps(doc))
    with pytest.raises(checkpoint.CheckpointError, match="whole number"):
        checkpoint.load(newest.with_suffix(""))
    assert train_run(run, resume=True, epochs=3, echo=False) == 0
    assert "Skipping checkpoint" in run.log_path.read_text()
    assert [r["epoch"] for r in run.read_metrics()[0] if r["type"] == "epoch"] == [1, 2, 3]


# ----------------------------------------------------------------------------- no shell, no pickle
BANNED_CALLS = {"os.system", "os.popen", "os.execl", "os.execlp", "os.execv", "os.execvp", "os.spawnl",
                "os.spawnv", "subprocess.getoutput", "subprocess.getstatusoutput", "pickle.load",
                "pickle.loads", "marshal.loads", "eval", "exec", "shelve.open", "dill.load"}


def dangerous_calls(source: str) -> list[str]:
    """Calls that could hand input to a shell or unpickle it: shell=True anywhere, os.system and
    friends, pickle, eval/exec, torch.load without weights_only=True, np.load(allow_pickle=True)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        kw = {k.arg: k.value for k in node.keywords}
        true = lambda k: k in kw and not (isinstance(kw[k], ast.Constant) and not kw[k].value)  # noqa: E731
        if "shell" in kw and true("shell"):
            found.append(f"{name}(shell=...) line {node.lineno}")
        if name in BANNED_CALLS:
            found.append(f"{name} line {node.lineno}")
        if name.endswith("torch.load"):
            wo = kw.get("weights_only")
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                found.append(f"{name} without weights_only=True line {node.lineno}")
        if name in ("np.load", "numpy.load") and true("allow_pickle"):
            found.append(f"{name}(allow_pickle=True) line {node.lineno}")
    return found


def test_the_checker_finds_what_it_looks_for():
    bad = ("import os, subprocess, pickle, torch, numpy as np\n"
           "subprocess.run(cmd, shell=True)\nos.system('ls')\npickle.loads(b)\ntorch.load(f)\n"
           "np.load(f, allow_pickle=True)\neval(s)\nsubprocess.Popen(c, shell=flag)\n")
    assert len(dangerous_calls(bad)) == 7
    ok = "subprocess.run(['ls'], shell=False)\ntorch.load(f, weights_only=True)\nnp.load(f, allow_pickle=False)\n"
    assert dangerous_calls(ok) == []


def test_no_shell_and_no_unpickling_anywhere_in_the_core():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20
    found = {str(f.relative_to(CORE)): calls for f in files if (calls := dangerous_calls(f.read_text()))}
    assert found == {}
