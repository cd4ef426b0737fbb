"""Pieces shared by the architectures: input checks, minibatch stddev, minibatch discrimination, G's
hidden activation, DCGAN initialisation, and faster forms of two torch layers.

Everything here is a plain function or a small ``nn.Module``; nothing reads module-level state.

The faster forms (``WholeInputConv`` here, ``LatentProjection`` in dcgan.py, ``Dropout``) subclass
the torch layer they replace and keep its parameters and state-dict keys, so checkpoints do not
notice them; ``plain_torch_layers`` turns them back into the torch layers (the benchmark's textbook
loop runs those, as the PyTorch examples do), and tests/test_models.py checks both give the same
values and gradients.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

_LABEL_DTYPES = (torch.int64, torch.int32)


def check_latent(z: Tensor, z_dim: int) -> None:
    """Raise ``ValueError`` unless ``z`` is a float tensor of shape [N, z_dim]."""
    if z.dim() != 2 or z.shape[1] != z_dim:
        raise ValueError(f"generator expects z of shape [N, {z_dim}]; got {list(z.shape)}")


def check_data(x: Tensor, data_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``x`` has shape [N, *data_shape]."""
    if tuple(x.shape[1:]) != tuple(data_shape) or x.dim() != len(data_shape) + 1:
        raise ValueError(
            f"discriminator expects input of shape [N, {', '.join(map(str, data_shape))}]; "
            f"got {list(x.shape)}"
        )


def check_labels(y: Tensor | None, batch: int, num_classes: int, who: str) -> Tensor | None:
    """Validate class labels for a model with ``num_classes`` classes.

    Returns ``y`` for conditional models and ``None`` for unconditional ones, which ignore labels
    (so a training loop may always pass them, as in stylegan2-ada's ``(z, c)`` convention).
    Only shapes and dtypes are checked: checking the values would need a host sync on the GPU, and
    ``nn.Embedding`` already rejects out-of-range labels.
    """
    if num_classes == 0:
        return None
    if y is None:
        raise ValueError(
            f"{who} is conditional on {num_classes} classes: pass labels y (int64 tensor of shape [N])"
        )
    if y.dim() != 1 or y.shape[0] != batch:
        raise ValueError(f"{who} expects labels y of shape [{batch}]; got {list(y.shape)}")
    if y.dtype not in _LABEL_DTYPES:
        raise ValueError(f"{who} expects integer labels (int64); got dtype {y.dtype}")
    return y


class MinibatchStd(nn.Module):
    """Append the minibatch standard deviation as one extra feature (Karras et al. 2018, ProGAN).

    The std over the batch of every feature (and pixel) is averaged to one scalar and broadcast as an
    extra channel, so D can see how varied a batch is and penalise mode collapse.

    [N, F] -> [N, F + 1]        or        [N, C, H, W] -> [N, C + 1, H, W]

    The variance uses ``unbiased=False`` plus a small epsilon inside the square root, so a batch of
    one gives a finite (tiny) value and a finite gradient instead of NaN.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        std = torch.sqrt(x.var(dim=0, unbiased=False) + self.eps)  # [F] or [C, H, W]
        mean_std = std.mean()  # scalar
        extra = mean_std.expand(x.shape[0], 1, *x.shape[2:])  # [N, 1] or [N, 1, H, W]
        return torch.cat([x, extra], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").

    Each sample's features f(x_i) [A] are multiplied by a tensor T [A, B, C] into B rows of C values,
    M_i [B, C]; for each kernel b the layer adds how close the sample is to the rest of the batch:

        o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_L1)      (j over the whole batch, i itself included)

    so D sees when a batch holds near-copies of one image (mode collapse). [N, A] -> [N, A + B].

    T starts as N(0, 0.05), the paper's code's initialisation; its L1 distances come from
    ``torch.cdist`` per kernel ([B, N, N]), which never holds the [N, N, B, C] differences.
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.05)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        m = (x @ self.T).view(n, self.kernels, self.kernel_dim).transpose(0, 1)   # [B, N, C]
        m = m.float()   # distances in fp32 under bf16 autocast: exp(-d) of nearby samples needs the digits
        dist = torch.cdist(m, m, p=1)                                             # [B, N, N]
        o = torch.exp(-dist).sum(2).t()                                           # [N, B]
        return torch.cat([x, o.to(x.dtype)], dim=1)                               # [N, A + B]


def g_activation(name: str, default: str) -> nn.Module:
    """G's hidden activation: "relu", "leakyrelu" (slope 0.2), or "auto" for the architecture's own
    (``default``). Neither has parameters, so the choice changes no state-dict key."""
    name = default if name == "auto" else name
    return nn.ReLU(inplace=True) if name == "relu" else nn.LeakyReLU(0.2, inplace=True)


class WholeInputConv(nn.Conv2d):
    """A conv whose kernel covers its whole unpadded input (DCGAN D's last layer, [N, C, s0, s0] ->
    [N, 1, 1, 1]) is a linear layer on the flattened input: computed here as one matrix product,
    faster than the conv on the CPU, forward and backward (benchmarks/README.md, "Speed"). Any other
    input takes the ordinary conv path."""

    def forward(self, x: Tensor) -> Tensor:
        if (x.shape[2:] != self.weight.shape[2:] or self.padding != (0, 0) or self.groups != 1
                or self.dilation != (1, 1)):
            return super().forward(x)
        n, w = x.shape[0], self.weight
        if x.is_contiguous():  # NCHW: flatten in C, H, W order on both sides (views, no copies)
            out = x.flatten(1) @ w.reshape(self.out_channels, -1).t()
        else:  # channels-last: flatten in H, W, C order (a view of an NHWC tensor)
            out = x.permute(0, 2, 3, 1).reshape(n, -1) @ w.permute(0, 2, 3, 1).reshape(self.out_channels, -1).t()
        if self.bias is not None:
            out = out + self.bias
        return out.view(n, self.out_channels, 1, 1)


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a faster mask on the CPU: each value is kept when a 32-bit random word is at
    least ``round(p * 2**32)`` (so with probability 1 - p, to within 2**-33), and kept values are
    scaled by 1 / (1 - p), as in ``nn.Dropout``. The words come from numpy's SFC64 generator, seeded
    for each call from torch's generator, so ``torch.manual_seed`` and a checkpoint's saved torch RNG
    state reproduce every mask. This draw is faster than torch's uniform draw, which in turn is
    faster than the Bernoulli draw of ``nn.Dropout`` (timings: benchmarks/README.md, "Speed").
    Another random stream than ``nn.Dropout``; other devices and dtypes, p of 0 or 1, and ``inplace``
    use ``nn.Dropout`` itself."""

    def forward(self, x: Tensor) -> Tensor:
        p = self.p
        if (not self.training or x.device.type != "cpu" or x.dtype != torch.float32 or self.inplace
                or not 0.0 < p < 1.0):
            return super().forward(x)
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape   # the mask in x's own layout: mixed layouts multiply far slower
            return x * keep_mask(torch.Size((n, h, w, c)), p).permute(0, 3, 1, 2)
        return x * keep_mask(x.shape, p)


def keep_mask(shape: torch.Size, p: float) -> Tensor:
    """float32 CPU tensor of ``shape``: 1 / (1 - p) with probability 1 - p, else 0 (see ``Dropout``)."""
    n = math.prod(shape)
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))       # from torch's generator
    words = np.random.SFC64(seed).random_raw((n + 1) // 2).view(np.uint32)[:n]
    threshold = np.uint32(min(round(p * 2**32), 2**32 - 1))
    mask = np.multiply(words >= threshold, np.float32(1.0 / (1.0 - p)), dtype=np.float32)
    return torch.from_numpy(mask).view(shape)


def plain_torch_layers(module: nn.Module) -> nn.Module:
    """Turn the faster layer forms in ``module`` back into the torch layers they subclass (in place;
    parameters untouched) and return ``module``."""
    from .dcgan import LatentProjection

    plain = {LatentProjection: nn.ConvTranspose2d, WholeInputConv: nn.Conv2d, Dropout: nn.Dropout}
    for m in module.modules():
        if type(m) in plain:
            m.__class__ = plain[type(m)]
    return module


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2015): conv weights N(0, 0.02); BN weight N(1, 0.02), bias 0.

    Use with ``model.apply(init_dcgan_weights)``. Label embeddings keep PyTorch's N(0, 1).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values in ``module`` (all of them, or only those with requires_grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
