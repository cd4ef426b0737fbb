"""How much memory a model needs to train, estimated before a byte of it is allocated.

Layer sizes are validated one by one (each hidden layer up to 8192 units), but eight such layers in
G and D make nearly a billion weights: about 16 GB with gradients and both Adam moments. Training that
would be killed by the kernel, or take the machine down with it, so it is refused with the estimate.
The models are built on PyTorch's "meta" device, which records shapes and allocates nothing.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import torch

from .config import ConfigError, TrainConfig
from .models import build_models

SHARE_OF_MEMORY = 0.5        # refuse a model that needs more than this share of the free memory:
                             # the server, the browser and other runs live in the rest
BYTES_PER_PARAMETER = 16     # float32 weight, gradient and Adam's two moments
_KNOWN = {"mnist": (1, 28, 10), "fashion-mnist": (1, 28, 10), "cifar10": (3, 32, 10)}


def training_bytes(spec, batch_size: int) -> tuple[int, int]:
    """(estimated bytes to train, parameter count) of the models ``spec`` describes."""
    with torch.device("meta"):
        G, D = build_models(spec)
    params = sum(p.numel() for m in (G, D) for p in m.parameters())
    outputs = 0

    def count(module, inputs, output):
        nonlocal outputs
        if torch.is_tensor(output):
            outputs += output.numel()

    hooks = [m.register_forward_hook(count) for net in (G, D) for m in net.modules() if not list(m.children())]
    try:  # one forward pass of G and of D on meta tensors gives every activation's size
        with torch.no_grad():
            z = torch.zeros(batch_size, spec.z_dim, device="meta")
            y = torch.zeros(batch_size, dtype=torch.long, device="meta") if spec.num_classes else None
            D(G(z, y), y)
    except Exception:  # an estimate from the weights alone is still an estimate
        outputs = 0
    finally:
        for h in hooks:
            h.remove()
    # D sees a real and a fake batch, and backward keeps each activation and its gradient
    return params * BYTES_PER_PARAMETER + outputs * 4 * 4, params


def device_bytes(device) -> int | None:
    """Free memory of the training device (the kernel's MemAvailable for the CPU), or None when unknown."""
    device = torch.device(device)
    try:
        if device.type == "cuda":
            return torch.cuda.mem_get_info(device.index or 0)[0]
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, RuntimeError, AssertionError, IndexError):
        return None


def check(spec, cfg: TrainConfig, device) -> None:
    """ConfigError naming the size settings when the models would not fit the device's memory."""
    need, params = training_bytes(spec, cfg.batch_size)
    have = device_bytes(device)
    if have is None or need <= SHARE_OF_MEMORY * have:
        return
    where = "the GPU" if torch.device(device).type == "cuda" else "this machine"
    share = f"{SHARE_OF_MEMORY:.0%} of the {have / 1e9:,.1f} GB {where} has free"
    fields = ("g_hidden", "d_hidden") if cfg.arch in ("mlp", "toy") else ("g_filters", "d_filters")
    msg = (f"these layer sizes make {params / 1e6:,.0f} million weights, which need about {need / 1e9:,.1f} GB "
           f"to train (weights, gradients, Adam's moments and a batch of {cfg.batch_size}), more than {share}. "
           "Use smaller layers or a smaller batch")
    raise ConfigError({fields[0]: f"{msg} (--{fields[0].replace('_', '-')}, --{fields[1].replace('_', '-')})"})


def guess_spec(cfg: TrainConfig):
    """The ModelSpec ``cfg`` will train, with the data's shape guessed from the settings (a folder of
    images: the chosen size and channels, else 64 px colour, ten classes) — before the data load."""
    from .training import model_spec

    if cfg.is_toy:
        info = SimpleNamespace(kind="points", channels=0, image_size=0, num_classes=4)
    else:
        channels, size, classes = _KNOWN.get(cfg.dataset, (3, 64, 10))
        info = SimpleNamespace(kind="images", channels=cfg.channels or channels,
                               image_size=cfg.image_size or size, num_classes=classes)
    return model_spec(cfg, info)


def check_config(cfg: TrainConfig) -> None:
    """check() before a run folder exists (the CLI, the dashboard's Start), for runs on the CPU.
    A GPU run is checked by its worker: asking the GPU here would hold a CUDA context in the server."""
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        check(guess_spec(cfg), cfg, "cpu")
