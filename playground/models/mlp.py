"""Fully connected GAN (Goodfellow et al. 2014), for images ("mlp") and 2D points ("toy").

Both archs share one builder. Images are generated as C*H*W values squashed by tanh into [-1, 1];
points are the raw output of the last linear layer (toy data are not bounded to [-1, 1]).
Conditional models (cGAN, Mirza & Osindero 2014) concatenate a learned label embedding to the input
of both networks. Options beside the paper: G's hidden activation (``g_activation``; LeakyReLU is
this architecture's own) and dropout in G (``g_dropout``); minibatch discrimination before D's last
layer (``minibatch_disc``).

Initialisation is PyTorch's default (Kaiming-uniform) on purpose: the course reports' MLP GANs train
with it, and DCGAN's N(0, 0.02) is tuned for conv nets with BatchNorm, not for plain MLPs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import (Dropout, MinibatchDiscrimination, MinibatchStd, check_data, check_labels, check_latent,
                     g_activation)
from .spec import ModelSpec

_SLOPE = 0.2  # LeakyReLU slope used throughout (Radford et al.; the course reports)


class MLPGenerator(nn.Module):
    """G(z, y=None): z [N, z_dim], y int64 [N] -> images [N, C, H, W] in [-1, 1] or points [N, 2]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.z_dim = spec.z_dim
        self.num_classes = spec.num_classes
        self.cont_codes = spec.cont_codes     # InfoGAN: z's first entries are codes in [-1, 1]
        self.label_role = spec.label_role
        self.output_shape = spec.data_shape
        self.embed = nn.Embedding(spec.num_classes, spec.embed_dim) if spec.num_classes else None

        layers: list[nn.Module] = []
        width = spec.z_dim + (spec.embed_dim if spec.num_classes else 0)  # [N, z_dim (+ embed_dim)]
        for hidden in spec.g_hidden:
            layers += [nn.Linear(width, hidden), g_activation(spec.g_activation, "leakyrelu")]  # [N, hidden]
            layers += [Dropout(spec.g_dropout)] if spec.g_dropout > 0 else []
            width = hidden
        layers.append(nn.Linear(width, spec.data_dim))  # [N, C*H*W] or [N, 2]
        if not spec.is_points:
            layers.append(nn.Tanh())  # images live in [-1, 1]; points stay linear
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_latent(z, self.z_dim)
        y = check_labels(y, z.shape[0], self.num_classes, "generator")
        if y is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [N, z_dim + embed_dim]
        out = self.net(z)  # [N, C*H*W] or [N, 2]
        return out.view(z.shape[0], *self.output_shape)  # [N, C, H, W] or [N, 2]


class MLPDiscriminator(nn.Module):
    """D(x, y=None): x [N, C, H, W] or [N, 2], y int64 [N] -> logits [N] (no sigmoid), or
    [N, d_outputs] for a family whose D has class outputs."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = spec.num_classes if spec.d_labels else 0   # labels D is given
        self.input_shape = spec.data_shape
        self.embed = nn.Embedding(self.num_classes, spec.embed_dim) if self.num_classes else None

        layers: list[nn.Module] = []
        width = spec.data_dim + (spec.embed_dim if self.num_classes else 0)  # [N, C*H*W (+ embed_dim)]
        for hidden in spec.d_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(_SLOPE, inplace=True)]  # [N, hidden]
            if spec.dropout > 0:
                layers.append(Dropout(spec.dropout))
            width = hidden
        if spec.minibatch_std:
            layers.append(MinibatchStd())  # [N, hidden + 1]
            width += 1
        if spec.minibatch_disc:   # minibatch discrimination (Salimans et al. 2016)
            layers.append(MinibatchDiscrimination(width, spec.minibatch_disc, spec.minibatch_disc_dim))
            width += spec.minibatch_disc  # [N, width + B]
        self.features = nn.Sequential(*layers)
        self.feature_dim = width
        self.head = nn.Linear(width, spec.d_outputs)  # [N, d_outputs]

    def body(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's features before its last layer: [N, feature_dim] (extra heads of a family read them)."""
        check_data(x, self.input_shape)
        y = check_labels(y, x.shape[0], self.num_classes, "discriminator")
        h = x.flatten(1)  # [N, C*H*W] or [N, 2]
        if y is not None:
            h = torch.cat([h, self.embed(y)], dim=1)  # [N, C*H*W + embed_dim]
        return self.features(h)

    def logits(self, h: Tensor) -> Tensor:
        """The last layer on ``body``'s features: [N] (one output) or [N, d_outputs]."""
        out = self.head(h)
        return out.squeeze(1) if out.shape[1] == 1 else out

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.logits(self.body(x, y))  # [N] or [N, d_outputs]


def build_mlp(spec: ModelSpec) -> tuple[MLPGenerator, MLPDiscriminator]:
    """(G, D) for arch "mlp" (images, or points when channels == 0) and "toy" (points)."""
    return MLPGenerator(spec), MLPDiscriminator(spec)
