"""Turn a finished run folder into a pretrained run (or bring a pretrained run up to date in place).

    python scripts/install_pretrained.py SRC pretrained/NAME --name "DCGAN, ...; 60,000 images, 100 epochs, CPU"
    python scripts/install_pretrained.py pretrained/NAME [...]        # in place: config, events, log

What a class sees first must be true of it and work on any machine, so for each run:

- every epoch's grid is kept (samples/), and only the generator snapshots the pages use: the
  schedule's epochs (0, 1, 5, 10, 25, 50, 100 by default; every epoch for the 2D toys, whose page
  draws D's arrows per epoch) or ``--snapshots``; training checkpoints (resume only) are dropped;
- config.json points inside the repository: an MNIST-like run reads the bundled subset
  (``data_source: bundled``, no ``data_dir``), so the Latent explorer's real images exist on a fresh
  clone; the record of what it was trained on keeps only the file's name, never a server path;
- ``--name`` replaces the run's name (say truthfully what it was trained on);
- the failure-mode warnings in metrics.jsonl are recomputed with today's detectors
  (``playground.monitor``), so a run trained by older code shows what the pages would say now;
- log.txt loses the folders of the machine that trained it (file names stay);
- the snapshots are slimmed to float16 where that changes nothing visible (slim_pretrained.py).

Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from playground import monitor  # noqa: E402
from playground.families import step_class  # noqa: E402
from playground.data import BUNDLED_FILES  # noqa: E402
from playground.runs import CHECKPOINT_FILES, Run  # noqa: E402
from slim_pretrained import slim_run  # noqa: E402

# An absolute or parent-relative path: everything up to its last "/" goes, the file name stays.
_PATH = re.compile(r"(?<![\w.])(?:/|\.\./|~/)[^\s'\"(),;]*/")


def strip_paths(text: str) -> str:
    """``/work/x/y.npz`` and ``../shared/y.npz`` become ``y.npz``."""
    return _PATH.sub("", text)


def _dump(path: Path, obj) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def schedule_for(epochs: list[int]) -> str:
    """A snapshot schedule (config.snapshot_schedule's grammar) that keeps exactly ``epochs`` (and
    epoch 0): "1:1,4:5,5:10" for [0, 1, 5, 10]."""
    parts, start = [], 0
    for e in sorted(set(epochs) - {0}):
        parts.append(f"{e - start}:{e}")
        start = e
    return ",".join(parts) or "0"


def fix_config(run: Run, name: str | None, snapshots: list[int] | None = None) -> None:
    path = run.path / "config.json"
    doc = json.loads(path.read_text())
    cfg, data = doc["config"], doc.get("data") or {}
    if snapshots:   # the pages look for the schedule's snapshots: it names the ones kept
        cfg["snapshot_schedule"] = schedule_for(snapshots)
    if cfg["dataset"] in BUNDLED_FILES:
        cfg["data_dir"], cfg["data_source"] = "", "bundled"
    elif cfg.get("data_dir"):
        raise SystemExit(f"{run.path}: data_dir {cfg['data_dir']!r} has no copy inside the repository")
    if name:
        cfg["name"] = name
    if data.get("location"):
        data["location"] = Path(str(data["location"])).name
    if data.get("notes"):   # older runs wrote the npz file's column test; say it in words
        notes = re.sub(r" \(is_test == 0\) of (\S+)\.(?=\s|$)", r" of \1 (its test images left out).",
                       str(data["notes"]))
        data["notes"] = strip_paths(notes)
    _dump(path, doc)


def recompute_events(run: Run) -> list[dict]:
    """Drop the stored warnings and write today's, each right after the record that raised it."""
    path = run.path / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cfg = run.read_config()
    m = monitor.Monitor(has_probs=step_class(cfg.family).probabilities_for(cfg), lr_d=cfg.lr_d)
    old = {(r.get("kind"), r.get("epoch"), r.get("step")): r for r in records if r.get("type") == "event"}
    out, events = [], []
    for r in records:
        if r.get("type") == "event":
            if r.get("kind") == "non_finite":   # a fact of the run, not a judgement: kept
                out.append(r)
            continue
        out.append(r)
        new = m.observe(r)
        for e in new:   # the same warning as before keeps its time; a new one takes its record's
            e["time"] = old.get((e["kind"], e["epoch"], e["step"]), r).get("time", e["time"])
        out += new
        events += new
    tmp = path.with_name(".metrics.jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in out))
    os.replace(tmp, path)
    return events


def fix_log(run: Run) -> None:
    path = run.path / "log.txt"
    if path.is_file():
        text = path.read_text()
        clean = strip_paths(text).replace(" (is_test == 0)", "")   # older workers' column test
        if clean != text:
            path.write_text(clean)


def copy_run(src: Path, dest: Path, snapshots: set[int] | None) -> None:
    """Copy a finished run, leaving out training checkpoints and unused snapshots."""
    if dest.exists():
        raise SystemExit(f"{dest} exists: remove it first (git keeps the old one)")
    state = Run(src).read_status().get("state")
    if state != "finished":
        raise SystemExit(f"{src}: state {state!r}; only finished runs are installed")

    run = Run(src)
    dropped = {stem.name for stem in run.train_checkpoint_stems()}
    if snapshots is not None:
        dropped |= {run.snapshot_stem(e).name for e in run.snapshot_epochs() if e not in snapshots}
    dropped = {stem + suffix for stem in dropped for suffix in CHECKPOINT_FILES}

    def ignore(folder, names):
        skip = {n for n in names if n.startswith(".")}
        if Path(folder) == run.checkpoints_dir:
            skip |= dropped & set(names)
        return skip

    shutil.copytree(src, dest, ignore=ignore)


def install(path: Path, name: str | None, snapshots: list[int] | None = None) -> None:
    run = Run(path)
    fix_config(run, name, snapshots)
    events = recompute_events(run)
    fix_log(run)
    slim_run(path)
    print(f"{path.name}: {run.read_config().name!r}; warnings: "
          + (", ".join(f"epoch {e['epoch']} {e['kind']}" for e in events) or "none"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path, help="SRC DEST, or pretrained run folders to update in place")
    ap.add_argument("--name", help="the run's new name (with SRC DEST)")
    ap.add_argument("--snapshots", help="epochs whose generator snapshots to keep, e.g. 0,1,5,10,25,50,100 "
                                        "(default: all the run saved)")
    args = ap.parse_args()
    keep = {int(e) for e in args.snapshots.split(",")} if args.snapshots else None
    src_dest = (len(args.paths) == 2 and not (args.paths[1] / "config.json").exists()
                and (args.paths[0] / "config.json").exists())
    if src_dest:
        src, dest = args.paths
        copy_run(src, dest, keep)
        install(dest, args.name, Run(dest).snapshot_epochs() if keep else None)
    else:
        if args.name or keep:
            raise SystemExit("--name and --snapshots go with SRC DEST")
        for p in args.paths:
            install(p, None)


if __name__ == "__main__":
    main()
