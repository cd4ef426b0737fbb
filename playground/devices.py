"""Which device a job trains on, and the per-device details the training loop needs.

On a shared GPU server the job manager counts its limit per device: at most ``max_jobs`` runs train
on each GPU (and on the CPU, and on MPS) at once. A run whose device is ``auto`` or ``cuda`` starts
on the GPU with a free slot that has the most free memory (other users' jobs included), and the
manager hands the chosen device to the worker (``DEVICE_ENV``), so counting happens under its lock.

Free memory is measured in a short-lived child process: ``torch.cuda.mem_get_info`` creates a CUDA
context on each GPU it asks about, hundreds of MB that a process keeps until it ends, and neither
the dashboard nor a worker should hold one on every GPU of the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import torch

DEVICE_ENV = "GAN_PLAYGROUND_DEVICE"   # the device the job manager placed a run on
PROBE_TIMEOUT_S = 60.0
_ROOT = Path(__file__).resolve().parent.parent


def gpu_count() -> int:
    """CUDA GPUs this process can see (0 without CUDA); creates no CUDA context."""
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except (RuntimeError, AssertionError):
        return 0


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


# ----------------------------------------------------------------------------- free memory
def measure_free(indices) -> dict[int, int]:
    """{GPU index: free bytes} from ``torch.cuda.mem_get_info``, in this process."""
    return {int(i): int(torch.cuda.mem_get_info(int(i))[0]) for i in indices}


def _probe(indices) -> dict[int, int]:
    """``measure_free`` in a child process (see the module's docstring); {} when it fails."""
    code = ("import json, sys; from playground.devices import measure_free; "
            "print(json.dumps(measure_free(json.loads(sys.argv[1]))))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        out = subprocess.run([sys.executable, "-c", code, json.dumps([int(i) for i in indices])],
                             cwd=str(_ROOT), env=env, capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            return {}
        return {int(k): int(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, AttributeError):
        return {}


def freest_gpu(indices) -> int:
    """Of the GPU ``indices``, the one with the most free memory (ties and a failed measurement:
    the lowest index). One candidate is returned without measuring."""
    indices = sorted(int(i) for i in indices)
    if len(indices) == 1:
        return indices[0]
    free = _probe(indices)
    return max(indices, key=lambda i: (free.get(i, -1), -i))


def auto_device() -> torch.device:
    """'auto': the freest CUDA GPU, then Apple's MPS, then the CPU."""
    n = gpu_count()
    if n:
        return torch.device("cuda", freest_gpu(range(n)))
    if mps_available():
        return torch.device("mps")
    return torch.device("cpu")


# ----------------------------------------------------------------------------- the job limit
def device_key(device: str | None, n_gpus: int | None = None) -> str:
    """The device a job counts against: 'cuda:N', 'mps', 'cpu' (or the setting itself when this
    machine lacks it: the worker then fails with its own message). ``auto`` and a bare ``cuda``
    count as cuda:0, which is where they trained before a GPU was chosen per job."""
    n = gpu_count() if n_gpus is None else n_gpus
    d = (device or "auto").strip()
    if d == "auto":
        return "cuda:0" if n else ("mps" if mps_available() else "cpu")
    if d == "cuda":
        return "cuda:0"
    return d


def busy_devices(runs) -> Counter:
    """How many of ``runs`` (all live) train on each device: from the device in their status (the
    manager's claim, then the worker's), else from their config."""
    n = gpu_count()
    busy: Counter = Counter()
    for run in runs:
        dev = run.read_status().get("device")
        if not isinstance(dev, str) or not dev:
            try:
                dev = run.read_config().device
            except (OSError, ValueError):
                dev = "cpu"
        busy[device_key(dev, n)] += 1
    return busy


def usable_devices(setting: str) -> list[str]:
    """The devices a job with device ``setting`` may train on: every GPU for 'auto' and 'cuda'."""
    n = gpu_count()
    if setting in ("auto", "cuda") and n:
        return [f"cuda:{i}" for i in range(n)]
    return [device_key(setting, n)]


def open_devices(setting: str, busy: Counter, limit: int) -> list[str]:
    """The devices a job with device ``setting`` may start on now (fewer than ``limit`` jobs there)."""
    return [d for d in usable_devices(setting) if busy[d] < limit]


def place(setting: str, busy: Counter, limit: int) -> str | None:
    """The device to start a job with device ``setting`` on now, or None while all it may use are
    full. Several open GPUs: the one with the most free memory."""
    free = open_devices(setting, busy, limit)
    if not free:
        return None
    if len(free) > 1:   # only ever GPUs
        return f"cuda:{freest_gpu([int(d.split(':')[1]) for d in free])}"
    return free[0]


# ----------------------------------------------------------------------------- random state
def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The device's random generator state, for an exact resume (CUDA and MPS have their own)."""
    if device.type == "cuda":
        return {"rng.cuda": torch.cuda.get_rng_state(device)}
    if device.type == "mps":
        return {"rng.mps": torch.mps.get_rng_state()}
    return {}


def restore_rng_state(device: torch.device, tensors: dict) -> None:
    if device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"].cpu(), device)
    elif device.type == "mps" and "rng.mps" in tensors:
        torch.mps.set_rng_state(tensors["rng.mps"].cpu())
