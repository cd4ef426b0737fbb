"""Wall-clock time until a preset's samples are recognisable, on this machine.

    .venv/bin/python benchmarks/time_to_recognisable.py [--preset classroom] [--tag NAME] [-- train flags]

Starts ``python -m playground train --preset <preset>`` as the dashboard does (its own process, the
worker's defaults, the quality figure after every epoch) and reports, per epoch, the seconds since
launch and the quality figure, and the first epoch whose samples count as recognisable:

    fd <= 90 and classes >= 8      (Fashion-MNIST classifier, 2,000 samples; README "Quality figure")

Why these numbers: they were read off the grids of the classroom preset by eye (benchmarks/README.md):
at fd ≈ 140 the grid is blobs with a few shirt-like shapes; at fd ≈ 90 most cells are garments
one can name (trousers, pullovers, T-shirts, sneakers); at fd ≈ 78 they are clearly so. Real
training images score fd 1.1 against the test images and noise 466-489, so fd 90 is about a fifth
of the way up from real to noise. ``classes >= 8`` guards against a generator that makes good
images of only a few kinds. Results go to benchmarks/results/time-to-recognisable-<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import speed  # noqa: E402

FD_MAX, CLASSES_MIN = 90.0, 8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="classroom")
    ap.add_argument("--tag", default="", help="name of the results file (default: the preset)")
    ap.add_argument("train_flags", nargs="*", help="extra flags for python -m playground train (after --)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "playground", "train", "--preset", args.preset, "--run-dir", str(run_dir),
               "--quiet", *args.train_flags]
        load0 = os.getloadavg()
        t0 = time.time()
        rc = subprocess.call(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        total = time.time() - t0
        rows = []
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["type"] in ("epoch", "quality"):
                q = r.get("quality") or {}
                rows.append({"epoch": r["epoch"], "step": r["step"], "seconds_since_launch": round(r["time"] - t0, 1),
                             "epoch_seconds": round(r.get("epoch_seconds") or 0.0, 1), "fd": q.get("fd"),
                             "confident": q.get("confident"), "classes": q.get("classes")})
        config = json.loads((run_dir / "config.json").read_text())["config"]
    hit = next((r for r in rows if r["fd"] is not None and r["fd"] <= FD_MAX and (r["classes"] or 0) >= CLASSES_MIN),
               None)
    doc = {"device": f"cpu-{speed.physical_cores()}core", "preset": args.preset, "train_flags": args.train_flags,
           "command": "python benchmarks/time_to_recognisable.py " + " ".join(sys.argv[1:]),
           "threshold": {"fd_max": FD_MAX, "classes_min": CLASSES_MIN}, "exit_code": rc,
           "batch_size": config["batch_size"], "epochs": config["epochs"], "total_seconds": round(total, 1),
           "recognisable_epoch": hit and hit["epoch"], "recognisable_seconds": hit and hit["seconds_since_launch"],
           "loadavg_before": load0, "loadavg_after": os.getloadavg(), "epochs_seen": rows}
    out = ROOT / "benchmarks" / "results" / f"time-to-recognisable-{args.tag or args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print("| epoch | s since launch | fd | confident | classes |\n|---|---|---|---|---|")
    for r in rows:
        fd = "–" if r["fd"] is None else f"{r['fd']:.1f}"
        conf = "–" if r["confident"] is None else f"{r['confident']:.3f}"
        print(f"| {r['epoch']} | {r['seconds_since_launch']} | {fd} | {conf} | {r['classes']} |")
    print(f"\nrecognisable (fd <= {FD_MAX:g}, classes >= {CLASSES_MIN}) at epoch {doc['recognisable_epoch']}, "
          f"{doc['recognisable_seconds']} s after launch; whole run {doc['total_seconds']} s; results in {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
