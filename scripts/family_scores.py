"""What a run's generator does with the labels or codes it is given, read by the project's quality
classifier (MNIST and Fashion-MNIST runs):

- InfoGAN: code purity, how often its categorical code picks one digit (or garment): for each code
  value, the share of its samples in their most frequent class;
- a conditional GAN or AC-GAN: class agreement, how often it draws the class it is asked for.

    python scripts/family_scores.py --run-dir pretrained/infogan-mnist [--epoch E] [--n 500]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground import quality, sampling  # noqa: E402
from playground.runs import Run  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--epoch", type=int, help="a saved epoch (default: the newest snapshot)")
    ap.add_argument("--n", type=int, default=500, help="samples per code value or class")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    run = Run(Path(args.run_dir))
    G, _, meta = sampling.load_snapshot(run, args.epoch)
    data = meta.get("data") or {}
    scorer = quality.scorer_for(data.get("name", ""), int(data.get("image_size", 0)), int(data.get("channels", 0)))
    if isinstance(scorer, str):
        print(f"error: {scorer}", file=sys.stderr)
        return 2
    if not G.num_classes:
        print("error: this generator takes no labels or codes: nothing to score", file=sys.stderr)
        return 2
    if getattr(G, "label_role", "class") == "code":
        out = quality.code_purity(G, scorer, args.n, args.seed)
    else:
        out = quality.class_agreement(G, scorer, args.n, args.seed)
    print(json.dumps({"run": str(run.path), "epoch": meta["epoch"], "n_per_value": args.n, **out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
