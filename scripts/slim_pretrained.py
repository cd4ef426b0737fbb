"""Make finished run folders lean enough to ship in pretrained/ (they stay ordinary run folders).

    python scripts/slim_pretrained.py pretrained/<run> [...]   # default: every run in pretrained/

For each run: the generator snapshots (and the 2D toys' discriminator) are rewritten in float16,
with their JSON's ``dtype``, ``sha256`` and ``bytes`` updated so they verify like fresh ones; the
training checkpoints (G, D, both Adam states: only needed to resume) are deleted, JSON first so a
half-deleted one reads as incomplete. A pretrained run is read-only, so nothing is lost but resume.
Snapshots are loaded back as float32 (``sampling.load_snapshot``); the script checks that the
float16 generator's outputs stay within ``MAX_ABS_DIFF`` of the float32 ones and keeps float32 when
they do not. Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import checkpoint, sampling  # noqa: E402
from playground.models import ModelSpec, build_models  # noqa: E402
from playground.runs import Run  # noqa: E402

MAX_ABS_DIFF = 0.02   # on outputs in [-1, 1]: about 2.5 grey levels of 255


def _half(tensors: dict) -> dict:
    return {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}


def _generator(meta: dict, tensors: dict):
    G, _ = build_models(ModelSpec.from_dict(meta["model"]))
    checkpoint.load_module_state(G, {k: v.float() for k, v in checkpoint.unprefixed("G", tensors).items()},
                                 "generator")
    return G.eval()


def slim_snapshot(run: Run, epoch: int) -> str:
    """Rewrite one snapshot in float16 when its generator's outputs barely change."""
    stem = run.snapshot_stem(epoch)
    tensors, meta = checkpoint.load(stem)
    if meta.get("dtype") == "float16":
        return "already float16"
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}
    G32, G16 = _generator(meta, tensors), _generator(meta, half)
    z = sampling.fixed_noise(G32.z_dim, 256, 4321)
    y = torch.arange(256) % G32.num_classes if G32.num_classes else None
    with torch.no_grad():
        diff = float((G16(z, y) - G32(z, y)).abs().max())
    if diff > MAX_ABS_DIFF:
        return f"kept float32 (float16 outputs differ by up to {diff:.4f})"
    meta = {k: v for k, v in meta.items() if k not in ("checkpoint_format", "sha256", "bytes", "meta_sha256")}
    meta["dtype"] = "float16"
    checkpoint.save(stem, half, meta)   # tensors first, then the JSON with the new hash
    checkpoint.load(stem)               # verifies like any snapshot
    return f"float16 (outputs differ by up to {diff:.4f})"


def slim_run(path: Path) -> None:
    run = Run(path)
    state = run.read_status().get("state")
    if state != "finished":
        raise SystemExit(f"{path}: state {state!r}; only finished runs are slimmed")
    for epoch in run.snapshot_epochs():
        print(f"{path.name}: snapshot {epoch}: {slim_snapshot(run, epoch)}")
    for stem in run.train_checkpoint_stems():
        run.delete_checkpoint(stem)
        print(f"{path.name}: deleted {stem.name}")
    for tmp in run.path.rglob(".*.tmp"):   # leftovers of an interrupted atomic write
        tmp.unlink()
    try:   # the lock of the worker that trained it; nothing trains a shipped run again
        (run.path / ".worker.lock").unlink()
    except FileNotFoundError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path)
    args = ap.parse_args()
    runs = args.runs or sorted(p for p in (ROOT / "pretrained").iterdir() if (p / "config.json").is_file())
    for path in runs:
        slim_run(path)


if __name__ == "__main__":
    main()
