"""GAN families: how one training step updates the networks.

The training loop (playground/training.py) is the same for every family: it draws real batches,
calls the family's ``d_step`` for each and its ``g_step`` every ``d_steps``-th, and writes what they
return. A family is one module here that defines a :class:`~playground.families.base.GanStep`
subclass, plus a preset. ``build_step(cfg, spec, speed, device)`` picks it.
"""

from __future__ import annotations

from .base import Batch, GanStep
from .gan import GanFamily

__all__ = ["Batch", "GanStep", "GanFamily", "build_step"]


def build_step(cfg, spec, speed, device, steps_per_epoch: int) -> GanStep:
    """The training step of the run's family (today one: the GAN of every objective and trick)."""
    return GanFamily(cfg, spec, speed, device, steps_per_epoch)
