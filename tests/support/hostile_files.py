"""Campaigns against run folders edited, linked or replaced by hand (issue "nothing lost, nothing escapes").

Used with a few cases by tests/test_run_folder_safety.py and with every case by
scripts/reliability_report.py (benchmarks/reliability.md, section 6). Training never imports this.

Each trial copies a small trained run, changes one thing in it (a refused ``--epochs``, training
checkpoints slimmed away, truncated or edited; a folder or file of the run made a link to a folder
or file outside it; a FIFO or a device put where a file should be; a file edited into nonsense),
records every entry inside the run and outside it (bytes, link targets, kinds), runs the command a
person would run (resume, sample, runs), and checks: the expected exit status, a message that names
the problem, no Python traceback, no command left hanging, and — for every refusal — every entry
inside and outside exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from playground import checkpoint
from playground.jobs import PROJECT_ROOT
from playground.runs import Run

# 64 images, batch 16: 4 steps an epoch; no quality figure. A 3-epoch run trains in a few seconds.
SMALL = dict(dataset="mnist", data_source="bundled", max_images=64, batch_size=16, arch="dcgan",
             g_filters=4, d_filters=4, z_dim=8, log_every=2, sample_count=16, device="cpu", threads=1,
             seed=0, snapshot_schedule="1", keep_checkpoints=3, quality_samples=0)
TIMEOUT_S = 120


# ----------------------------------------------------------------------------- recording a folder
def record(*roots: Path) -> dict:
    """Every entry under ``roots`` (links not followed): regular files by sha256, links by target,
    FIFOs, devices and sockets by kind."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    out[p] = ("link", os.readlink(p))
                elif stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        out[p] = ("file", hashlib.sha256(f.read()).hexdigest(), st.st_mode & 0o7777)
                elif stat.S_ISDIR(st.st_mode):
                    out[p] = ("dir",)
                else:
                    out[p] = ("special", stat.S_IFMT(st.st_mode))
    return out


def changes(before: dict, after: dict) -> list[str]:
    keys = sorted(set(before) | set(after))
    return [f"{k}: {before.get(k, ('absent',))[0]} -> {after.get(k, ('absent',))[0]}"
            for k in keys if before.get(k) != after.get(k)]


# ----------------------------------------------------------------------------- building cases
def small_config(**over):
    from playground.config import TrainConfig
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **SMALL, **over}).validate()


def trained_run(path: Path, epochs: int = 3) -> Run:
    """A finished run of ``epochs`` epochs (in this process)."""
    from playground.worker import train_run
    run = Run(path)
    run.create(small_config(epochs=epochs))
    if train_run(run, echo=False) != 0:
        raise RuntimeError(f"the template run failed: {run.read_status().get('error')}")
    return run


def copy_run(template: Run, path: Path) -> Run:
    shutil.copytree(template.path, path, symlinks=True)
    for leftover in (".worker.lock", "worker.out"):
        (path / leftover).unlink(missing_ok=True)
    return Run(path)


def train_stems(run: Run) -> list[Path]:
    return sorted(p.with_suffix("") for p in run.checkpoints_dir.glob("train_step_*.json"))


def rewrite_checkpoint(stem: Path, meta_edit=None, tensor_edit=None) -> None:
    """Edit a checkpoint the way a determined person would: change the JSON or the tensors, then
    recompute the size, the checksums and meta_sha256, so only the content checks can catch it."""
    jpath, tpath = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    meta = json.loads(jpath.read_text())
    data = tpath.read_bytes()
    if tensor_edit:
        tensors = dict(st_load(data))
        tensor_edit(tensors)
        data = st_save(tensors)
        tpath.write_bytes(data)
    if meta_edit:
        meta_edit(meta)
    meta.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    meta.pop("meta_sha256", None)
    meta["meta_sha256"] = checkpoint._meta_hash(meta)
    jpath.write_text(json.dumps(meta))


def _edit_config(run: Run, fn) -> None:
    doc = json.loads(run.config_path.read_text())
    fn(doc)
    run.config_path.write_text(json.dumps(doc))


def _nested(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def _int8(tensors):
    name = next(k for k in tensors if k.startswith("G.") and k.endswith("weight"))
    tensors[name] = tensors[name].to(__import__("torch").int8)


def _all_train(run, **kw):
    for stem in train_stems(run):
        rewrite_checkpoint(stem, **kw)


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:100])


def _edit_json(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def _drop(stems) -> None:
    for s in stems:
        for p in (s.with_suffix(".json"), s.with_suffix(".safetensors")):
            p.unlink()


# Resume refusals: (prepare(run) -> None, extra CLI args, words the message must hold).
RESUME_REFUSALS = {
    "--epochs 0 on a finished run": (lambda r: None, ["--epochs", "0"], "--epochs"),
    "--epochs 2 on a finished 3-epoch run": (lambda r: None, ["--epochs", "2"], "fewer than the 3 epochs"),
    "no --epochs on a finished run": (lambda r: None, [], "asks for no more"),
    "training checkpoints slimmed away (as in pretrained/)": (
        lambda r: [p.unlink() for p in r.checkpoints_dir.glob("train_step_*")], [], "start a new run"),
    "every training checkpoint truncated": (
        lambda r: [_truncate(s.with_suffix(".safetensors")) for s in train_stems(r)], [], "no usable training checkpoint"),
    "every training checkpoint's epoch edited": (
        lambda r: [_edit_json(s.with_suffix(".json"), lambda m: m.update(epoch=9)) for s in train_stems(r)], [],
        "edited by hand"),
    "checkpoints of epochs 2-3 gone, epoch 1's left": (
        lambda r: _drop(train_stems(r)[1:]), [], "throw epochs 2–3 away"),
    "config.json edited (g_filters)": (
        lambda r: _edit_config(r, lambda d: d["config"].update(g_filters=8)), [], "edited"),
    "config.json nested 100,000 deep": (lambda r: r.config_path.write_text(_nested()), [], "config.json"),
    "config.json lr_d \"fast\"": (lambda r: _edit_config(r, lambda d: d["config"].update(lr_d="fast")), [], "lr_d"),
    "config.json seed 10**30": (lambda r: _edit_config(r, lambda d: d["config"].update(seed=10**30)), [], "seed"),
    "checkpoint epoch 10**30 (re-hashed)": (
        lambda r: _all_train(r, meta_edit=lambda m: m.update(epoch=10**30)), [], "epoch"),
    "garbage optimizer state (re-hashed)": (
        lambda r: _all_train(r, meta_edit=lambda m: m.update(opt_g={"param_groups": "x", "scalars": 7})), [],
        "optimizer state"),
    "optimizer lr \"fast\" (re-hashed)": (
        lambda r: _all_train(r, meta_edit=lambda m: m["opt_d"]["param_groups"][0].update(lr="fast")), [], "'lr'"),
    "int8 weights (re-hashed)": (lambda r: _all_train(r, tensor_edit=_int8), [], "int8"),
    "live lr_g \"fast\" (re-hashed)": (
        lambda r: _all_train(r, meta_edit=lambda m: m.update(live={"lr_g": "fast"})), [], "lr_g"),
}


def _link(run: Run, name: str, outside: Path, target_kind: str = "dir") -> None:
    entry = run.path / name
    target = outside / f"target-{name.replace('/', '_')}"
    if target_kind == "dir":
        shutil.copytree(entry, target)  # the outside folder holds files with the run's own names
        shutil.rmtree(entry)
    else:
        target.write_bytes(entry.read_bytes() if entry.exists() else b"outside\n")
        entry.unlink(missing_ok=True)
    entry.symlink_to(target)


# Links out of the run: name of the entry made a link to a copy of itself outside the run.
LINKED_ENTRIES = ("checkpoints", "samples", "log.txt", "status.json", "metrics.jsonl", "config.json",
                  "checkpoints/snapshot_epoch_0003.json", "samples/epoch_003.png", "control.json")


def _special(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:  # a real character device node (/dev/zero's numbers); a link to /dev/zero without the right
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))
        except (PermissionError, OSError):
            path.symlink_to("/dev/zero")
    else:
        path.symlink_to("/dev/zero")


SPECIAL_ENTRIES = ("status.json", "config.json", "metrics.jsonl", "control.json",
                   "checkpoints/snapshot_epoch_0003.json", "checkpoints/snapshot_epoch_0003.safetensors")
SPECIAL_KINDS = ("fifo", "device", "link to /dev/zero")


# ----------------------------------------------------------------------------- running a command
def run_cli(args: list[str], inline: bool = False, timeout: float = TIMEOUT_S) -> dict:
    """Run ``python -m playground *args``: a real subprocess, or (``inline``, for the tests) cli.main
    in this process with stderr captured. Returns exit, stderr, seconds, hung."""
    t0 = time.monotonic()
    if inline:
        from playground.cli import main
        err, out = io.StringIO(), io.StringIO()

        def hung(signum, frame):
            raise _Hung()

        old = signal.signal(signal.SIGALRM, hung)
        outer = signal.alarm(int(timeout))
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                code = main(args)
            stuck = False
        except _Hung:  # a read without end or an open that blocks: the very thing checked for
            code, stuck = None, True
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            if outer:
                signal.alarm(max(1, outer - int(time.monotonic() - t0)))
        return {"exit": code, "stderr": err.getvalue(), "stdout": out.getvalue(),
                "seconds": round(time.monotonic() - t0, 2), "hung": stuck}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        p = subprocess.run([sys.executable, "-m", "playground", *args], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return {"exit": p.returncode, "stderr": p.stderr, "stdout": p.stdout,
                "seconds": round(time.monotonic() - t0, 2), "hung": False}
    except subprocess.TimeoutExpired as e:
        return {"exit": None, "stderr": str(e.stderr or ""), "seconds": round(time.monotonic() - t0, 2), "hung": True}


class _Hung(BaseException):
    """Raised by SIGALRM in an inline command that ran past its time."""


def _json_rows(result: dict) -> list[dict]:
    try:
        return json.loads(result.get("stdout") or "[]")
    except ValueError:
        return []


def _verdict(case: str, result: dict, want_exit: int, needle: str, before: dict, after: dict,
             must_not_change: bool) -> dict:
    changed = changes(before, after)
    problems = []
    if result["hung"]:
        problems.append(f"did not end within {TIMEOUT_S} s")
    if result["exit"] != want_exit:
        problems.append(f"exit {result['exit']}, not {want_exit}")
    if "Traceback" in result["stderr"]:
        problems.append("a Python traceback on stderr")
    if needle and needle not in result["stderr"]:
        problems.append(f"the message does not say {needle!r}")
    if must_not_change and changed:
        problems.append(f"{len(changed)} entr{'y' if len(changed) == 1 else 'ies'} changed: {changed[:3]}")
    last = [ln for ln in result["stderr"].strip().splitlines() if ln.startswith("error:")]
    return {"case": case, "exit": result["exit"], "seconds": result["seconds"], "changed": len(changed),
            "message": (last[-1] if last else result["stderr"].strip()[-300:])[:700],
            "survived": not problems, "problems": problems}


def resume_refusal_trial(work: Path, template: Run, case: str, inline: bool = False) -> dict:
    prepare, extra, needle = RESUME_REFUSALS[case]
    run = copy_run(template, work / f"refusal-{abs(hash(case)) % 10**8}")
    prepare(run)
    before = record(run.path)
    result = run_cli(["train", "--run-dir", str(run.path), "--resume", "--quiet", *extra], inline)
    return _verdict(case, result, 2, needle, before, record(run.path), True)


def link_trial(work: Path, template: Run, entry: str, command: str, inline: bool = False) -> dict:
    """``entry`` of a copy of the template made a link to a copy outside; ``command`` is resume,
    sample or start (a queued run whose folder has the link)."""
    base = work / f"link-{entry.replace('/', '_')}-{command}"
    outside = base / "outside"
    outside.mkdir(parents=True)
    if command == "start":
        if "/" in entry:
            return {}
        run = Run(base / "run")
        run.create(small_config(epochs=1))
        _link(run, entry, outside, "dir" if entry in ("checkpoints", "samples") else "file")
    else:
        run = copy_run(template, base / "run")
        _link(run, entry, outside, "dir" if entry in ("checkpoints", "samples") else "file")
    before = record(run.path, outside)
    if command == "resume":
        result = run_cli(["train", "--run-dir", str(run.path), "--resume", "--epochs", "4", "--quiet"], inline)
        verdict = _verdict(f"{entry} → outside; resume", result, 2, "symbolic link", before,
                           record(run.path, outside), True)
    elif command == "sample":
        out = base / "grid.png"
        result = run_cli(["sample", "--run-dir", str(run.path), "--out", str(out), "--n", "4"], inline)
        # checkpoints/ or config.json linked: refused (exit 2); any other link: the
        # samples come from the run's own files and a note names the link that was left alone
        verdict = _verdict(f"{entry} → outside; sample", result, 2 if entry in ("checkpoints", "config.json") else 0,
                           "symbolic link", before, record(run.path, outside), True)
    else:
        result = run_cli(["train", "--run-dir", str(run.path), "--quiet"], inline)
        after = record(outside)
        verdict = _verdict(f"{entry} → outside; start", result, 2, "", {k: v for k, v in before.items()
                                                                          if k.startswith(str(outside))},
                           after, True)
        status_error = str(run.read_status().get("error"))
        verdict["message"] = status_error[:700]
        if "symbolic link" not in status_error:
            verdict["problems"].append("the status does not name the link")
            verdict["survived"] = False
    return verdict


def special_trial(work: Path, template: Run, entry: str, kind: str, command: str, inline: bool = False) -> dict:
    """``entry`` replaced by a FIFO, a device or a link to /dev/zero; ``command``: resume, sample or
    runs. Every command must end (no read without end, no open that blocks), exit as expected, and
    leave the folder as it was."""
    run = copy_run(template, work / f"special-{entry.replace('/', '_')}-{kind.split()[0]}-{command}")
    _special(run.path / entry, kind)
    before = record(run.path)
    if command == "resume":
        result = run_cli(["train", "--run-dir", str(run.path), "--resume", "--epochs", "4", "--quiet"], inline)
        want, needle = 2, "not regular files"
    elif command == "sample":
        result = run_cli(["sample", "--run-dir", str(run.path), "--out", str(run.path.parent / f"{run.path.name}.png"),
                          "--n", "4"], inline)
        want, needle = (2, "config.json") if entry == "config.json" else (0, "")
    else:
        result = run_cli(["runs", "--root", str(run.path.parent), "--json"], inline)
        want, needle = 0, ""
        if not result["stderr"]:
            listed = [r for r in _json_rows(result) if r.get("run") == str(run.path)]
            result["stderr"] = (f"listed as {listed[0].get('state')}" if listed else
                                "not listed (its config.json is not a regular file)")
    return _verdict(f"{entry} = {kind}; {command}", result, want, needle, before, record(run.path), True)


def fifo_in_images_trial(work: Path, inline: bool = False) -> dict:
    """A folder of images holding a FIFO named fifo.png (and a link to /dev/zero named zero.png):
    the worker skips both with a count and trains; nothing blocks."""
    import numpy as np
    from PIL import Image
    images = work / "fifo-images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(images / f"{i:02d}.png")
    os.mkfifo(images / "fifo.png")
    (images / "zero.png").symlink_to("/dev/zero")
    run_dir = work / "fifo-run"
    result = run_cli(["train", "--dataset", "folder", "--data-dir", str(images), "--image-size", "28",
                      "--channels", "1", "--epochs", "1", "--batch-size", "16", "--arch", "mlp",
                      "--g-hidden", "16", "--d-hidden", "16", "--z-dim", "8", "--quality-samples", "0",
                      "--device", "cpu", "--threads", "1", "--run-dir", str(run_dir), "--quiet"], inline)
    verdict = _verdict("fifo.png and a link to /dev/zero in --data-dir", result, 0, "", {}, {}, False)
    log = (run_dir / "log.txt").read_text() if (run_dir / "log.txt").is_file() else ""
    if "2 special files" not in log:
        verdict["problems"].append("the log does not count the 2 special files")
        verdict["survived"] = False
    verdict["message"] = next((ln for ln in log.splitlines() if "special files" in ln), verdict["message"])[20:]
    return verdict


def _snapshot(run: Run) -> Path:
    return run.checkpoints_dir / "snapshot_epoch_0003"


def _huge_model(meta):
    meta["model"].update(arch="mlp", g_hidden=[8192] * 8, d_hidden=[8192] * 8)


# Snapshots edited by hand, then sampled: (prepare(run), words the message must hold).
EDITED_SNAPSHOTS = {
    "snapshot model made 8 layers of 8192 (re-hashed)": (
        lambda r: rewrite_checkpoint(_snapshot(r), meta_edit=_huge_model), "weights"),
    "snapshot int8 weights (re-hashed)": (lambda r: rewrite_checkpoint(_snapshot(r), tensor_edit=_int8), "int8"),
    "snapshot JSON nested 100,000 deep": (lambda r: _snapshot(r).with_suffix(".json").write_text(_nested()), "JSON"),
    "snapshot epoch 10**30 (re-hashed)": (
        lambda r: rewrite_checkpoint(_snapshot(r), meta_edit=lambda m: m.update(epoch=10**30)), "epoch"),
    "snapshot 'bytes' 2**62 (re-hashed)": (
        lambda r: _edit_json(_snapshot(r).with_suffix(".json"),
                             lambda m: m.update(bytes=2**62, meta_sha256=checkpoint._meta_hash({**m, "bytes": 2**62}))),
        "tensor file"),
}


def edited_snapshot_trial(work: Path, template: Run, case: str, inline: bool = False) -> dict:
    """Sample epoch 3 of a run whose snapshot was edited: exit 2 naming the problem, nothing allocated
    beyond the file's own size, nothing changed."""
    prepare, needle = EDITED_SNAPSHOTS[case]
    run = copy_run(template, work / f"snapshot-{abs(hash(case)) % 10**8}")
    prepare(run)
    before = record(run.path)
    result = run_cli(["sample", "--run-dir", str(run.path), "--epoch", "3", "--out",
                      str(run.path.parent / f"{run.path.name}.png")], inline)
    return _verdict(case, result, 2, needle, before, record(run.path), True)


# Command-line flags with values that must be refused naming the flag, before anything is written.
def flag_cases(work: Path, template: Run) -> dict:
    unwritable = "/proc/self/no-such-folder/x.png"
    return {
        "sample --out into an unwritable place": (["sample", "--run-dir", str(template.path), "--out", unwritable], "--out"),
        "sample --seed 99999999999999999999": (["sample", "--run-dir", str(template.path), "--out",
                                                str(work / "s.png"), "--seed", "99999999999999999999"], "--seed"),
        "train --device cuda:abc": (["train", "--device", "cuda:abc", "--runs-root", str(work / "flag-runs")], "device"),
        "train --arch mlp with 8 hidden layers of 8192": (
            ["train", "--arch", "mlp", "--g-hidden", ",".join(["8192"] * 8), "--d-hidden", ",".join(["8192"] * 8),
             "--runs-root", str(work / "flag-runs")], "--g-hidden"),
        "train --config nested 100,000 deep": (["train", "--config", str(work / "nested.json"),
                                                "--runs-root", str(work / "flag-runs")], "--config"),
        "train --lr-d fast": (["train", "--lr-d", "fast", "--runs-root", str(work / "flag-runs")], "lr_d"),
    }


def flag_trial(work: Path, template: Run, case: str, inline: bool = False) -> dict:
    (work / "nested.json").write_text(_nested())
    args, needle = flag_cases(work, template)[case]
    before = record(template.path, work / "flag-runs") if (work / "flag-runs").exists() else record(template.path)
    result = run_cli(args, inline)
    after = record(template.path, work / "flag-runs") if (work / "flag-runs").exists() else record(template.path)
    return _verdict(case, result, 2, needle, before, after, True)
