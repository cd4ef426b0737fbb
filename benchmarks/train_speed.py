"""Training speed against the textbook loop: the same as ``python -m playground bench``.

    .venv/bin/python benchmarks/train_speed.py [--models mlp-28,dcgan-28,dcgan-64] [--device cuda] ...

See playground/bench.py for what is timed and how; results go to benchmarks/results/<device>.json.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], command="python benchmarks/train_speed.py " + " ".join(sys.argv[1:])))
