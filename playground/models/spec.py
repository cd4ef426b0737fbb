"""ModelSpec: the complete, JSON-serialisable description of a generator/discriminator pair.

A spec is stored inside every run's config.json and checkpoint JSON, so a run can always rebuild its
models (nanoGPT keeps its model config in the checkpoint for the same reason). Shapes come from the
dataset (``channels``, ``image_size``, ``num_classes``), the rest are architecture choices.

Constructing a spec never raises; call :meth:`ModelSpec.validate` (``build_models`` does) to get a
``ValueError`` that names the bad field and what it may be, ready to show to a learner.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..registry import (ARCH_NAMES as ARCHS, ARCHITECTURES, D_DOWNSAMPLES, G_ACTIVATIONS, HIDDEN_LAYERS,
                        HIDDEN_SIZE, IMAGE_CHANNELS, IMAGE_SIZES, KERNEL_SIZES, LABEL_ROLES, MODEL_RANGES, UPSAMPLES)

POINT_DIM = 2  # toy data are points in the plane

# Fields added after the first run format: to_dict() writes them only when they differ from their
# default, so a model described before they existed (config.json, checkpoint JSON, pretrained runs)
# reads as the same model, and its run still resumes.
ADDED_FIELDS = ("g_activation", "g_dropout", "d_downsample", "minibatch_disc", "minibatch_disc_dim",
                "d_outputs", "d_labels", "cont_codes", "label_role")


@dataclass(frozen=True)
class ModelSpec:
    """What to build; see the field comments. ``build_models(spec)`` turns it into ``(G, D)``."""

    arch: str  # "mlp" | "dcgan" | "fccgan" | "toy"
    z_dim: int = 100
    channels: int = 1  # 1 or 3 for images; 0 for 2D points
    image_size: int = 28  # 28, 32, 64 or 128 for images; 0 for points
    num_classes: int = 0  # 0 = unconditional; >0 = conditional on labels 0..num_classes-1
    g_hidden: tuple[int, ...] = (256, 512, 1024)  # mlp/toy generator hidden sizes; fccgan: G's dense layers
    d_hidden: tuple[int, ...] = (1024, 512, 256)  # mlp/toy discriminator hidden sizes; fccgan: D's dense layers
    g_filters: int = 64  # dcgan/fccgan: filters of G's last hidden layer (doubles towards the input)
    d_filters: int = 64  # dcgan/fccgan: filters of D's first layer (doubles each downsampling)
    kernel_size: int = 4  # dcgan/fccgan: 4 or 5
    upsample: str = "convtranspose"  # dcgan/fccgan: "convtranspose" or "nearest" (upsample + conv)
    batchnorm: bool = True  # BatchNorm in G (dcgan/fccgan; never on G's output)
    d_batchnorm: bool = True  # BatchNorm in D's convs (never on D's input layer); off for WGAN-GP
    minibatch_std: bool = False  # D appends a minibatch-stddev feature before its last layer
    dropout: float = 0.0  # D dropout probability
    embed_dim: int = 50  # label embedding size for conditional models
    g_activation: str = "auto"  # G's hidden activation: relu, leakyrelu, auto (ReLU in convs, LeakyReLU in MLPs)
    g_dropout: float = 0.0  # G dropout probability (after each hidden activation)
    d_downsample: str = "stride"  # dcgan/fccgan D: "stride" (stride-2 conv) or "avgpool" (conv + avg pooling)
    minibatch_disc: int = 0  # minibatch discrimination in D (Salimans et al. 2016): kernels B, 0 = off
    minibatch_disc_dim: int = 5  # and the size C of each kernel
    # GAN families (playground/families/) whose D does more than judge real against fake:
    d_outputs: int = 1  # D's output width: [N] when 1, [N, d_outputs] otherwise (class heads)
    d_labels: bool = True  # a conditional D gets the labels as input; False: only G is conditioned
    # (AC-GAN and InfoGAN, whose D predicts the class or code instead of being told it)
    cont_codes: int = 0  # InfoGAN: the first cont_codes entries of G's z are codes uniform in [-1, 1]
    label_role: str = "class"  # what G's labels are: "class" (the data's classes) or "code" (InfoGAN)

    def __post_init__(self) -> None:
        # Accept lists (e.g. straight from JSON) for the hidden sizes, but store tuples so the spec
        # stays hashable and compares equal after a JSON round trip.
        for name in ("g_hidden", "d_hidden"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    # ------------------------------------------------------------------ shapes
    @property
    def is_points(self) -> bool:
        """True for 2D point data (the toy datasets), False for images."""
        return self.arch == "toy" or self.channels == 0

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(2,)`` for points, ``(C, H, W)`` for images."""
        if self.is_points:
            return (POINT_DIM,)
        return (self.channels, self.image_size, self.image_size)

    @property
    def data_dim(self) -> int:
        """Number of values in one sample (2 for points, C*H*W for images)."""
        return math.prod(self.data_shape)

    # --------------------------------------------------------------- JSON I/O
    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ADDED_FIELDS and value == f.default:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """Inverse of :meth:`to_dict`. Unknown keys raise ``ValueError``; missing keys take defaults.

        The result is not validated; call :meth:`validate`.
        """
        if not isinstance(d, dict):
            raise ValueError(f"ModelSpec.from_dict expects a dict, got {type(d).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(
                f"ModelSpec: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"allowed keys are {', '.join(known)}"
            )
        if "arch" not in d:
            raise ValueError(f"ModelSpec: 'arch' is required (one of {', '.join(ARCHS)})")
        return cls(**d)

    # ------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its allowed values."""
        if self.arch not in ARCHS:
            raise ValueError(f"ModelSpec.arch must be one of {', '.join(ARCHS)}; got {self.arch!r}")
        _check_int("z_dim", self.z_dim, *MODEL_RANGES["z_dim"])
        if type(self.channels) is not int or self.channels not in (0, *IMAGE_CHANNELS):
            raise ValueError(
                f"ModelSpec.channels must be 1 or 3 for images, or 0 for 2D points; got {self.channels!r}"
            )
        if type(self.image_size) is not int or self.image_size not in (0, *IMAGE_SIZES):
            raise ValueError(
                f"ModelSpec.image_size must be one of {', '.join(map(str, IMAGE_SIZES))} for images, "
                f"or 0 for 2D points; got {self.image_size!r}"
            )
        if self.is_points:
            if self.arch == "toy" and self.channels != 0:
                raise ValueError(
                    f"ModelSpec.channels must be 0 for arch 'toy' (2D points); got {self.channels}. "
                    "Use arch 'mlp' or 'dcgan' for images"
                )
            if self.image_size != 0:
                raise ValueError(
                    f"ModelSpec.image_size must be 0 for 2D point data (channels 0 / arch 'toy'); "
                    f"got {self.image_size}"
                )
        elif self.image_size == 0:
            raise ValueError(
                f"ModelSpec.image_size must be one of {', '.join(map(str, IMAGE_SIZES))} for images "
                f"(channels {self.channels}); got 0"
            )
        if ARCHITECTURES[self.arch].convs and self.is_points:
            raise ValueError(
                f"ModelSpec.arch {self.arch!r} needs image data (channels 1 or 3, image_size "
                f"{'/'.join(map(str, IMAGE_SIZES))}); use arch 'toy' for 2D points"
            )
        _check_int("num_classes", self.num_classes, *MODEL_RANGES["num_classes"])
        _check_hidden("g_hidden", self.g_hidden)
        _check_hidden("d_hidden", self.d_hidden)
        _check_int("g_filters", self.g_filters, *MODEL_RANGES["g_filters"])
        _check_int("d_filters", self.d_filters, *MODEL_RANGES["d_filters"])
        if type(self.kernel_size) is not int or self.kernel_size not in KERNEL_SIZES:
            raise ValueError(f"ModelSpec.kernel_size must be 4 or 5; got {self.kernel_size!r}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(
                f"ModelSpec.upsample must be one of {', '.join(UPSAMPLES)}; got {self.upsample!r}"
            )
        for name in ("batchnorm", "d_batchnorm", "minibatch_std"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ModelSpec.{name} must be true or false; got {getattr(self, name)!r}")
        dropout, (lo, hi) = self.dropout, MODEL_RANGES["dropout"]
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not lo <= dropout <= hi:
            raise ValueError(f"ModelSpec.dropout must be a number in [{lo:g}, {hi:g}]; got {dropout!r}")
        _check_int("embed_dim", self.embed_dim, *MODEL_RANGES["embed_dim"])
        for name, allowed in (("g_activation", G_ACTIVATIONS), ("d_downsample", D_DOWNSAMPLES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"ModelSpec.{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        g_dropout, (lo, hi) = self.g_dropout, MODEL_RANGES["g_dropout"]
        if isinstance(g_dropout, bool) or not isinstance(g_dropout, (int, float)) or not lo <= g_dropout <= hi:
            raise ValueError(f"ModelSpec.g_dropout must be a number in [{lo:g}, {hi:g}]; got {g_dropout!r}")
        _check_int("minibatch_disc", self.minibatch_disc, *MODEL_RANGES["minibatch_disc"])
        _check_int("minibatch_disc_dim", self.minibatch_disc_dim, *MODEL_RANGES["minibatch_disc_dim"])
        _check_int("d_outputs", self.d_outputs, *MODEL_RANGES["d_outputs"])
        if not isinstance(self.d_labels, bool):
            raise ValueError(f"ModelSpec.d_labels must be true or false; got {self.d_labels!r}")
        _check_int("cont_codes", self.cont_codes, 0, self.z_dim)
        if self.label_role not in LABEL_ROLES:
            raise ValueError(f"ModelSpec.label_role must be one of {', '.join(LABEL_ROLES)}; got {self.label_role!r}")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    # bool is an int subclass; True as a size is always a mistake.
    if type(value) is not int or not lo <= value <= hi:
        raise ValueError(f"ModelSpec.{name} must be an integer in {lo}..{hi}; got {value!r}")


def _check_hidden(name: str, value: Any) -> None:
    (few, many), (lo, hi) = HIDDEN_LAYERS, HIDDEN_SIZE
    if (
        not isinstance(value, (tuple, list))
        or not few <= len(value) <= many
        or any(type(v) is not int or not lo <= v <= hi for v in value)
    ):
        raise ValueError(
            f"ModelSpec.{name} must list {few} to {many} layer widths, each {lo} to {hi}; got {value!r}"
        )
