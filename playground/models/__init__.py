"""Generators and discriminators, built from a :class:`ModelSpec`.

    from playground.models import ModelSpec, build_models, count_parameters
    G, D = build_models(ModelSpec("dcgan", channels=1, image_size=28, num_classes=10))
    x = G(z, y)            # z [N, z_dim], y int64 [N] (None when unconditional) -> [N, C, H, W] in [-1, 1]
    logits = D(x, y)       # -> [N], raw logits (no sigmoid); the objective decides what they mean

Point data (arch "toy") use [N, 2] instead of [N, C, H, W], with a linear (unsquashed) G output.
Both modules carry ``.spec``; G also ``.z_dim`` and ``.num_classes``.
"""

from __future__ import annotations

from torch import nn

from .dcgan import build_dcgan
from .fccgan import build_fccgan
from .layers import MinibatchDiscrimination, MinibatchStd, count_parameters
from .mlp import build_mlp
from .spec import ARCHS, ModelSpec

__all__ = ["ARCHS", "MinibatchDiscrimination", "MinibatchStd", "ModelSpec", "build_models", "count_parameters"]


def build_models(spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
    """Validate ``spec`` and return freshly initialised ``(G, D)``.

    Construction is deterministic under ``torch.manual_seed`` (G is built before D).
    Raises ``ValueError`` with a readable message for an invalid spec.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"build_models expects a ModelSpec; got {type(spec).__name__}")
    spec.validate()
    if spec.arch == "dcgan":
        return build_dcgan(spec)
    if spec.arch == "fccgan":
        return build_fccgan(spec)
    return build_mlp(spec)  # "mlp" (images or points) and "toy" (points)
