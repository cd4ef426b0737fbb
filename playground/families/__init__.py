"""GAN families: how one training step updates the networks.

The training loop (playground/training.py) is the same for every family: it draws real batches,
calls the family's ``d_step`` for each and its ``g_step`` every ``d_steps``-th, and writes what they
return. A family is one module here that defines a :class:`~playground.families.base.GanStep`
subclass named ``STEP``, an entry in playground/registry.py's FAMILIES, and a preset.
"""

from __future__ import annotations

import importlib

from ..registry import FAMILIES
from .base import Batch, GanStep

__all__ = ["Batch", "GanStep", "build_step", "step_class"]


def step_class(family: str) -> type[GanStep]:
    """The GanStep class of the family called ``family`` (registry.FAMILIES)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    return importlib.import_module(f"{__name__}.{FAMILIES[family].module}").STEP


def build_step(cfg, spec, speed, device, steps_per_epoch: int) -> GanStep:
    """The training step of the run's family, with its networks and optimizers built."""
    return step_class(cfg.family)(cfg, spec, speed, device, steps_per_epoch)
