"""DCGAN (Radford et al. 2015), sized from the dataset, after pytorch/examples ``dcgan/main.py``.

Geometry: G starts from a 1x1 "image" of z, grows it to s0 x s0 and doubles it n_up times;
D mirrors that. s0 = 7 for 28 px (7 -> 14 -> 28) and 4 for 32 and 64 px, so n_up is 2, 3 or 4.
With f = g_filters = d_filters, the shapes are (N = batch, C = image channels)::

    image_size 64 (n_up 4)           = pytorch/examples dcgan with nz=100, ngf=ndf=64
      G: z [N, z_dim, 1, 1] -> [N, 8f, 4, 4] -> [N, 4f, 8, 8] -> [N, 2f, 16, 16] -> [N, f, 32, 32]
         -> [N, C, 64, 64]
      D: [N, C, 64, 64] -> [N, f, 32, 32] -> [N, 2f, 16, 16] -> [N, 4f, 8, 8] -> [N, 8f, 4, 4]
         -> [N, 1, 1, 1] -> [N]
    image_size 32 (n_up 3)
      G: [N, 4f, 4, 4] -> [N, 2f, 8, 8] -> [N, f, 16, 16] -> [N, C, 32, 32];  D mirrors it
    image_size 28 (n_up 2)
      G: [N, 2f, 7, 7] -> [N, f, 14, 14] -> [N, C, 28, 28];  D mirrors it, last conv has kernel 7

Choices, and why:
  * Convs followed by BatchNorm have no bias (BN's shift replaces it). The first D conv and both
    output convs are bias-free too, exactly as in pytorch/examples, so the default 64 px models have
    that example's parameter counts (G 3,576,704, D 2,765,568). Hidden convs get a bias when BN is
    switched off (e.g. D for WGAN-GP), since nothing else would provide the shift.
  * BatchNorm2d(n) with PyTorch's defaults (eps=1e-5, momentum=0.1); never ``BatchNorm2d(n, 0.8)``,
    which silently sets eps=0.8.
  * ``upsample="nearest"`` replaces each stride-2 transposed conv with nearest-neighbour upsampling
    plus a stride-1 'same' conv, which avoids checkerboard artifacts (Odena et al. 2016).
  * Conditional: G concatenates a label embedding to z; D gets the label as one extra input
    channel, an H*W embedding reshaped to [N, 1, H, W].
  * Options beside the paper (each off by default, so the default models stay the paper's):
    ``d_downsample="avgpool"`` halves D's maps with a stride-1 'same' conv and 2x2 average pooling
    instead of a stride-2 conv (the mirror of G's upsample + conv, against checkerboard artefacts);
    ``g_activation`` and ``g_dropout`` change G's hidden layers; ``minibatch_disc`` adds minibatch
    discrimination before D's last layer, which is then a linear layer on the flattened features.
  * 128 px: s0 4 and n_up 5, so G starts at [N, 16f, 4, 4].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import (Dropout, MinibatchDiscrimination, MinibatchStd, WholeInputConv, check_data, check_labels,
                     check_latent, g_activation, init_dcgan_weights)
from .spec import ModelSpec

_SLOPE = 0.2  # LeakyReLU slope in D (Radford et al.)


def geometry(image_size: int) -> tuple[int, int]:
    """(s0, n_up): the smallest feature map side and the number of 2x up/downsamplings."""
    s0 = 7 if image_size == 28 else 4
    return s0, int(round(math.log2(image_size / s0)))


def _up(c_in: int, c_out: int, kernel_size: int, mode: str, bias: bool) -> list[nn.Module]:
    """Layers that double the spatial size: [N, c_in, S, S] -> [N, c_out, 2S, 2S]."""
    if mode == "convtranspose":
        if kernel_size == 4:
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]
        # k=5: (S-1)*2 - 2*2 + 5 + 1 = 2S
        return [nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=1, bias=bias)]
    # nearest: upsample, then a 'same' stride-1 conv
    return [nn.Upsample(scale_factor=2, mode="nearest"), *_same_conv(c_in, c_out, kernel_size, bias)]


def _same_conv(c_in: int, c_out: int, kernel_size: int, bias: bool) -> list[nn.Module]:
    """A stride-1 conv that keeps the spatial size. An even kernel has no symmetric 'same' padding,
    so it is padded explicitly (left/top 1 less than right/bottom for k=4)."""
    if kernel_size % 2:
        return [nn.Conv2d(c_in, c_out, kernel_size, 1, kernel_size // 2, bias=bias)]
    lo, hi = (kernel_size - 1) // 2, kernel_size // 2
    return [nn.ZeroPad2d((lo, hi, lo, hi)), nn.Conv2d(c_in, c_out, kernel_size, 1, 0, bias=bias)]


class LatentProjection(nn.ConvTranspose2d):
    """G's first layer: a transposed conv from a 1x1 "image" of z to [N, ch, s0, s0].

    On a 1x1 input that conv is exactly a matrix product of z with the weight viewed as
    [c_in, ch * s0 * s0], which runs faster than the conv on the CPU, forward and backward
    (benchmarks/README.md, "Speed"). Same module, same parameters and state-dict keys as
    ``nn.ConvTranspose2d``."""

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        if x.shape[2:] != (1, 1) or output_size is not None:
            return super().forward(x, output_size)
        n, (c_out, kh, kw), w = x.shape[0], self.weight.shape[1:], self.weight
        if w.is_contiguous() or kh * kw == 1:
            out = (x.flatten(1) @ w.reshape(w.shape[0], -1)).view(n, c_out, kh, kw)
        else:  # a channels-last weight: the product comes out channels-last too (views, no copies)
            out = (x.flatten(1) @ w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)).view(n, kh, kw, c_out)
            out = out.permute(0, 3, 1, 2)
        return out if self.bias is None else out + self.bias[:, None, None]


def _down(c_in: int, c_out: int, kernel_size: int, bias: bool, mode: str = "stride") -> list[nn.Module]:
    """Layers that halve the spatial size: [N, c_in, S, S] -> [N, c_out, S/2, S/2]. "stride": one
    stride-2 conv; "avgpool": a 'same' stride-1 conv, then 2x2 average pooling."""
    if mode == "avgpool":
        return [*_same_conv(c_in, c_out, kernel_size, bias), nn.AvgPool2d(2)]
    return [nn.Conv2d(c_in, c_out, kernel_size, 2, (kernel_size - 1) // 2, bias=bias)]


def g_upsampling(spec: ModelSpec, ch: int) -> list[nn.Module]:
    """G's convolutional part after its first feature map: [N, ch, s0, s0] -> [N, C, H, W] in [-1, 1].
    ``ch`` is f * 2^(n_up-1); each hidden layer halves the channels and doubles the side."""
    _, n_up = geometry(spec.image_size)
    bn, k = spec.batchnorm, spec.kernel_size
    layers: list[nn.Module] = []
    for _ in range(n_up - 1):
        layers += _up(ch, ch // 2, k, spec.upsample, bias=not bn)
        ch //= 2
        layers += [nn.BatchNorm2d(ch)] if bn else []
        layers.append(g_activation(spec.g_activation, "relu"))
        layers += [Dropout(spec.g_dropout)] if spec.g_dropout > 0 else []
        # [N, ch, 2S, 2S]: channels halve while the side doubles, down to [N, f, H/2, W/2]
    layers += _up(ch, spec.channels, k, spec.upsample, bias=False)
    layers.append(nn.Tanh())
    return layers   # [N, C, H, W]


def d_downsampling(spec: ModelSpec) -> tuple[list[nn.Module], int]:
    """D's convolutional part, (layers, channels out): [N, C (+1), H, W] -> [N, f * 2^(n_up-1), s0, s0]."""
    _, n_up = geometry(spec.image_size)
    bn, k, mode = spec.d_batchnorm, spec.kernel_size, spec.d_downsample
    ch = spec.d_filters
    c_in = spec.channels + (1 if spec.num_classes and spec.d_labels else 0)   # the label map, when D is given it
    # [N, C (+1), H, W]; no BN on the input layer (Radford et al.)
    layers: list[nn.Module] = [*_down(c_in, ch, k, bias=False, mode=mode), nn.LeakyReLU(_SLOPE, inplace=True)]
    layers += [Dropout(spec.dropout)] if spec.dropout > 0 else []
    # [N, f, H/2, W/2]
    for _ in range(n_up - 1):
        layers += _down(ch, ch * 2, k, bias=not bn, mode=mode)
        ch *= 2
        layers += [nn.BatchNorm2d(ch)] if bn else []
        layers.append(nn.LeakyReLU(_SLOPE, inplace=True))
        layers += [Dropout(spec.dropout)] if spec.dropout > 0 else []
        # [N, ch, S/2, S/2]: channels double while the side halves, down to [N, ., s0, s0]
    return layers, ch


class DCGANGenerator(nn.Module):
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
        c_in = spec.z_dim + (spec.embed_dim if spec.num_classes else 0)
        # [N, z_dim (+ embed_dim), 1, 1]
        layers: list[nn.Module] = [LatentProjection(c_in, ch, s0, 1, 0, bias=not bn)]
        layers += [nn.BatchNorm2d(ch)] if bn else []
        layers.append(g_activation(spec.g_activation, "relu"))
        layers += [Dropout(spec.g_dropout)] if spec.g_dropout > 0 else []
        # [N, f * 2^(n_up-1), s0, s0] -> [N, C, H, W]
        self.net = nn.Sequential(*layers, *g_upsampling(spec, ch))
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_latent(z, self.z_dim)
        y = check_labels(y, z.shape[0], self.num_classes, "generator")
        if y is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [N, z_dim + embed_dim]
        return self.net(z[:, :, None, None])  # [N, z, 1, 1] -> [N, C, H, W]


class DCGANDiscriminator(nn.Module):
    """D(x, y=None): x [N, C, H, W], y int64 [N] -> logits [N] (no sigmoid), or [N, d_outputs] for a
    family whose D has class outputs."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = spec.num_classes if spec.d_labels else 0   # labels D is given
        self.input_shape = spec.data_shape
        size = spec.image_size
        # The label enters as one extra image channel.
        self.embed = nn.Embedding(self.num_classes, size * size) if self.num_classes else None

        s0, _ = geometry(size)
        layers, ch = d_downsampling(spec)   # [N, C (+1), H, W] -> [N, ch, s0, s0]
        if spec.minibatch_std:
            layers.append(MinibatchStd())  # [N, ch + 1, s0, s0]
            ch += 1
        self.features = nn.Sequential(*layers)
        self.feature_dim = ch * s0 * s0
        if spec.minibatch_disc:   # [N, ch * s0 * s0] -> [N, ch * s0 * s0 + B] -> [N, d_outputs]
            self.minibatch_disc = MinibatchDiscrimination(self.feature_dim, spec.minibatch_disc,
                                                          spec.minibatch_disc_dim)
            self.head = nn.Linear(self.feature_dim + spec.minibatch_disc, spec.d_outputs, bias=False)
        else:
            self.minibatch_disc = None
            self.head = WholeInputConv(ch, spec.d_outputs, s0, 1, 0, bias=False)  # [N, d_outputs, 1, 1]
        self.apply(init_dcgan_weights)

    def body(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's feature maps before its last layer: [N, ch, s0, s0] (``feature_dim`` values each;
        extra heads of a family read them flattened)."""
        check_data(x, self.input_shape)
        y = check_labels(y, x.shape[0], self.num_classes, "discriminator")
        if y is not None:
            label_map = self.embed(y).view(x.shape[0], 1, *x.shape[2:])  # [N, 1, H, W]
            x = torch.cat([x, label_map], dim=1)  # [N, C + 1, H, W]
        return self.features(x)

    def logits(self, h: Tensor) -> Tensor:
        """The last layer on ``body``'s features (after minibatch discrimination, when on): [N] (one
        output) or [N, d_outputs]."""
        if self.minibatch_disc is not None:
            out = self.head(self.minibatch_disc(h.flatten(1)))  # [N, d_outputs]
        else:
            out = self.head(h).flatten(1)  # [N, d_outputs, 1, 1] -> [N, d_outputs]
        return out.squeeze(1) if out.shape[1] == 1 else out

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.logits(self.body(x, y))  # [N] or [N, d_outputs]


def build_dcgan(spec: ModelSpec) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """(G, D) for arch "dcgan"."""
    return DCGANGenerator(spec), DCGANDiscriminator(spec)
