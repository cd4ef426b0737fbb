"""FCC-GAN (Barua et al. 2019, "FCC-GAN: A Fully Connected and Convolutional Net Architecture for
GANs"): DCGAN with dense layers before G's convolutions and after D's.

The paper's point is that a few fully connected layers between z and the first feature map (and
between D's last feature map and its output) give the convolutions a better-shaped input and
output, and make training steadier and faster to converge than the plain DCGAN.

Shapes (N = batch, f = g_filters / d_filters, s0 and n_up as in DCGAN: 7 and 2 for 28 px, 4 and
3/4/5 for 32/64/128 px), with the widths chosen here as FCC-GAN's defaults (the preset
``fccgan-cifar10``; from our reading of the paper's CIFAR-10 networks, G's dense layers 64 and 512
and D's 256 and 128; they are the settings ``g_hidden`` and ``d_hidden``)::

    G: z [N, z_dim (+ embed_dim)] -> dense [N, 64] -> dense [N, 512]
       -> dense [N, f * 2^(n_up-1) * s0 * s0] -> reshape [N, f * 2^(n_up-1), s0, s0]
       -> DCGAN's upsampling convs -> [N, C, H, W] in [-1, 1]
    D: [N, C (+1), H, W] -> DCGAN's downsampling convs -> [N, d_filters * 2^(n_up-1), s0, s0]
       -> flatten -> dense [N, 256] -> dense [N, 128] -> [N, 1] -> logits [N]

Choices, and why:
  * G's dense layers are Linear -> BatchNorm1d -> ReLU (as DCGAN's projection is followed by
    BatchNorm and ReLU); the last one, the projection to the first feature map, is followed by
    BatchNorm2d after the reshape. No bias where BatchNorm follows (its shift replaces it).
  * D's dense layers are Linear -> LeakyReLU(0.2) (-> dropout), without BatchNorm, like the MLP
    discriminator; BatchNorm stays in D's convs (``d_batchnorm``, off for WGAN-GP).
  * Minibatch standard deviation and minibatch discrimination sit after D's dense layers, just
    before its last linear layer.
  * Conditional runs as in DCGAN: G concatenates a label embedding to z; D gets the label as one
    extra input channel.
  * DCGAN's initialisation (N(0, 0.02) for convs and dense layers, BatchNorm weights N(1, 0.02)).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .dcgan import _SLOPE, d_downsampling, g_upsampling, geometry
from .layers import (Dropout, MinibatchDiscrimination, MinibatchStd, check_data, check_labels, check_latent,
                     g_activation, init_dcgan_weights)
from .spec import ModelSpec


class FCCGANGenerator(nn.Module):
    """G(z, y=None): z [N, z_dim], y int64 [N] -> images [N, C, H, W] in [-1, 1]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.z_dim = spec.z_dim
        self.num_classes = spec.num_classes
        self.cont_codes = spec.cont_codes     # InfoGAN: z's first entries are codes in [-1, 1]
        self.label_role = spec.label_role
        self.output_shape = spec.data_shape
        self.embed = nn.Embedding(spec.num_classes, spec.embed_dim) if spec.num_classes else None

        s0, n_up = geometry(spec.image_size)
        bn = spec.batchnorm
        ch = spec.g_filters * 2 ** (n_up - 1)
        self.first_map = (ch, s0, s0)
        width = spec.z_dim + (spec.embed_dim if spec.num_classes else 0)  # [N, z_dim (+ embed_dim)]
        dense: list[nn.Module] = []
        for hidden in spec.g_hidden:
            dense.append(nn.Linear(width, hidden, bias=not bn))
            dense += [nn.BatchNorm1d(hidden)] if bn else []
            dense.append(g_activation(spec.g_activation, "relu"))
            dense += [Dropout(spec.g_dropout)] if spec.g_dropout > 0 else []
            width = hidden  # [N, hidden]
        dense.append(nn.Linear(width, ch * s0 * s0, bias=not bn))  # [N, ch * s0 * s0]
        self.dense = nn.Sequential(*dense)
        convs: list[nn.Module] = [nn.BatchNorm2d(ch)] if bn else []   # on [N, ch, s0, s0]
        convs.append(g_activation(spec.g_activation, "relu"))
        convs += [Dropout(spec.g_dropout)] if spec.g_dropout > 0 else []
        self.net = nn.Sequential(*convs, *g_upsampling(spec, ch))   # -> [N, C, H, W]
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_latent(z, self.z_dim)
        y = check_labels(y, z.shape[0], self.num_classes, "generator")
        if y is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [N, z_dim + embed_dim]
        h = self.dense(z).view(z.shape[0], *self.first_map)  # [N, ch, s0, s0]
        return self.net(h)  # [N, C, H, W]


class FCCGANDiscriminator(nn.Module):
    """D(x, y=None): x [N, C, H, W], y int64 [N] -> logits [N] (no sigmoid), or [N, d_outputs]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = spec.num_classes if spec.d_labels else 0   # labels D is given
        self.input_shape = spec.data_shape
        size = spec.image_size
        self.embed = nn.Embedding(self.num_classes, size * size) if self.num_classes else None

        s0, _ = geometry(size)
        layers, ch = d_downsampling(spec)   # [N, C (+1), H, W] -> [N, ch, s0, s0]
        self.features = nn.Sequential(*layers)
        width = ch * s0 * s0  # flattened
        dense: list[nn.Module] = []
        for hidden in spec.d_hidden:
            dense += [nn.Linear(width, hidden), nn.LeakyReLU(_SLOPE, inplace=True)]  # [N, hidden]
            dense += [Dropout(spec.dropout)] if spec.dropout > 0 else []
            width = hidden
        if spec.minibatch_std:
            dense.append(MinibatchStd())  # [N, hidden + 1]
            width += 1
        if spec.minibatch_disc:
            dense.append(MinibatchDiscrimination(width, spec.minibatch_disc, spec.minibatch_disc_dim))
            width += spec.minibatch_disc  # [N, width + B]
        self.dense = nn.Sequential(*dense)
        self.feature_dim = width
        self.head = nn.Linear(width, spec.d_outputs)  # [N, d_outputs]
        self.apply(init_dcgan_weights)

    def body(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's features before its last layer: [N, feature_dim], the output of its dense layers."""
        check_data(x, self.input_shape)
        y = check_labels(y, x.shape[0], self.num_classes, "discriminator")
        if y is not None:
            label_map = self.embed(y).view(x.shape[0], 1, *x.shape[2:])  # [N, 1, H, W]
            x = torch.cat([x, label_map], dim=1)  # [N, C + 1, H, W]
        return self.dense(self.features(x).flatten(1))  # [N, ch * s0 * s0] -> [N, feature_dim]

    def logits(self, h: Tensor) -> Tensor:
        """The last layer on ``body``'s features: [N] (one output) or [N, d_outputs]."""
        out = self.head(h)
        return out.squeeze(1) if out.shape[1] == 1 else out

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.logits(self.body(x, y))  # [N] or [N, d_outputs]


def build_fccgan(spec: ModelSpec) -> tuple[FCCGANGenerator, FCCGANDiscriminator]:
    """(G, D) for arch "fccgan"."""
    return FCCGANGenerator(spec), FCCGANDiscriminator(spec)
