import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never reach the network and keep caches inside their own temporary folders.
os.environ.setdefault("GAN_PLAYGROUND_CACHE", str(ROOT / ".cache" / "test-cache"))

import torch  # noqa: E402

torch.set_num_threads(1)

TINY_IMAGES = dict(dataset="mnist", data_source="bundled", max_images=40, batch_size=8, epochs=1,
                   g_filters=4, d_filters=4, z_dim=8, g_hidden=(16, 16), d_hidden=(16, 16),
                   embed_dim=4, log_every=2, sample_count=16, device="cpu", seed=0,
                   quality_samples=0)  # scoring 2,000 samples per epoch would dominate a tiny test
TINY_TOY = dict(dataset="ring", arch="toy", max_images=64, batch_size=16, epochs=1, z_dim=2,
                g_hidden=(16, 16), d_hidden=(16, 16), embed_dim=4, log_every=2, device="cpu", seed=0,
                snapshot_schedule="1", quality_samples=0)


@pytest.fixture
def tiny_cfg():
    """A TrainConfig factory for runs that take a second or two on the CPU."""
    from playground.config import TrainConfig

    def make(**over):
        base = dict(TINY_TOY if over.get("dataset") in ("ring", "grid", "spiral", "moons") else TINY_IMAGES)
        base.update(over)
        return TrainConfig.from_dict({**TrainConfig().to_dict(), **base}).validate()

    return make
