"""Checkpoints as safetensors + JSON: nothing is ever unpickled.

Every checkpoint is two files with one stem: ``<stem>.safetensors`` (tensors only) and
``<stem>.json`` (what they are: kind, epoch, step, model spec, config, data info, and the sha256 and
size of the tensor file). The JSON is written after the tensors, so a checkpoint whose JSON exists
and whose hash matches is complete; anything else is reported as truncated or foreign. The JSON also
carries ``meta_sha256``, a hash of its own other fields, so a description edited by hand (an epoch
changed, a learning rate typed in) is rejected instead of silently resuming from the wrong place.

Kinds:
- ``train``: G, D (prefixes ``G.``/``D.``), both Adam states (``opt_g.``/``opt_d.``) and RNG
  states, for resuming. The JSON carries the optimizers' param groups.
- ``snapshot``: the generator alone (``G.``), and for 2D toy runs also the discriminator (``D.``)
  so the decision surface can be drawn. Optionally stored in float16 to keep folders small.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .runs import RunError, atomic_write_bytes, atomic_write_json, parse_json, read_bytes

CHECKPOINT_FORMAT = 1
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_TENSOR_BYTES = 64 << 30          # far above any model the config allows; a bound, not a budget
MAX_EPOCH = 10_000                   # the config's largest epoch count
MAX_STEP = 2**53
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, edited or not from GAN Playground."""


def save(stem: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict, *,
         root: str | os.PathLike | None = None) -> None:
    """Write ``stem``.safetensors then ``stem``.json, each atomically (inside ``root``, the run
    folder, when given: no folder on the way may be a link)."""
    stem = Path(stem)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    data = st_save(flat)
    atomic_write_bytes(stem.with_suffix(".safetensors"), data, root=root)
    doc = {"checkpoint_format": CHECKPOINT_FORMAT, **meta,
           "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    doc["meta_sha256"] = _meta_hash(doc)
    atomic_write_json(stem.with_suffix(".json"), doc, root=root)


def _meta_hash(doc: dict) -> str:
    """sha256 of the description without its own hash (canonical JSON: sorted keys, no spaces)."""
    rest = {k: v for k, v in doc.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load(stem: str | os.PathLike, device="cpu", *, root: str | os.PathLike | None = None
         ) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify a checkpoint; CheckpointError with a plain message if anything is off.

    Both files are read as regular files only (never through a link, never a device) and never
    past a bound: the JSON's MAX_JSON_BYTES, the tensors' own declared size."""
    stem = Path(stem)
    jpath, tpath = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    try:
        meta = parse_json(read_bytes(jpath, MAX_JSON_BYTES, root=root), jpath.name)
    except FileNotFoundError:
        raise CheckpointError(f"{jpath} is missing: the checkpoint is incomplete") from None
    except RunError as e:
        msg = str(e)
        if "cannot be read" in msg:
            msg = f"{jpath.name} is not valid JSON ({msg.split('cannot be read: ', 1)[-1]}); the file is damaged"
        raise CheckpointError(msg) from None
    except OSError as e:
        raise CheckpointError(f"{jpath.name} cannot be read: {e.strerror or e}") from None
    if not isinstance(meta, dict) or meta.get("checkpoint_format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{jpath.name} is not a GAN Playground checkpoint description")
    # Descriptions written before meta_sha256 existed carry none and are accepted as they are.
    if "meta_sha256" in meta and meta["meta_sha256"] != _meta_hash(meta):
        raise CheckpointError(f"{jpath.name} was edited by hand: its contents no longer match the hash "
                              "written with it, so the checkpoint cannot be trusted")
    for key, hi in (("epoch", MAX_EPOCH), ("step", MAX_STEP)):
        if key in meta and not (isinstance(meta[key], int) and not isinstance(meta[key], bool)
                                and 0 <= meta[key] <= hi):
            raise CheckpointError(f"{jpath.name}: '{key}' must be a whole number from 0 to {hi}, "
                                  f"got {str(meta[key])[:40]!r}")
    size = meta.get("bytes")
    if not (isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_TENSOR_BYTES):
        raise CheckpointError(f"{jpath.name}: 'bytes' must be the size of the tensor file, got {str(size)[:40]!r}")
    try:
        data = read_bytes(tpath, size, root=root)
    except FileNotFoundError:
        raise CheckpointError(f"{tpath} is missing") from None
    except RunError as e:
        if "larger than" not in str(e):
            raise CheckpointError(str(e)) from None
        data = b""  # longer than declared: reported below like any size mismatch
    except OSError as e:
        raise CheckpointError(f"{tpath.name} cannot be read: {e.strerror or e}") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"{tpath.name} does not match its description (truncated, or edited "
                              "by hand): its size or checksum differs")
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise CheckpointError(f"{tpath.name} is not a readable safetensors file: {e}") from None
    for name, t in tensors.items():
        # RNG states are bytes, BatchNorm's batch counter an int64; everything else is a float
        want = ((torch.uint8,) if name.startswith("rng.") else (torch.int64,)
                if name.endswith(".num_batches_tracked") else FLOAT_DTYPES)
        if t.dtype not in want:
            raise CheckpointError(f"{tpath.name}: tensor '{name[:80]}' is {str(t.dtype).replace('torch.', '')}, "
                                  "not a floating-point tensor: this is not a checkpoint GAN Playground wrote")
    return {k: v.to(device) for k, v in tensors.items()}, meta


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def check_fits_file(spec, meta: dict, with_d: bool, what: str) -> None:
    """A model description must not build more weights than its tensor file holds: an edited
    description (8 layers of 8192 units, say) would otherwise allocate gigabytes before the
    weights failed to fit. Weights take at least 2 bytes each (float16 snapshots)."""
    from .models import build_models

    with torch.device("meta"):  # shapes only: nothing is allocated
        G, D = build_models(spec)
    n = sum(p.numel() for p in G.parameters()) + (sum(p.numel() for p in D.parameters()) if with_d else 0)
    size = int(meta.get("bytes") or 0)
    if 2 * n > size + 1024:
        raise CheckpointError(f"{what}: its model description asks for {n:,} weights, more than its "
                              f"tensor file of {size:,} bytes holds (was it edited?)")


def load_module_state(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """``load_state_dict`` with a message that says which part does not fit."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:3]
        raise CheckpointError(f"the {what} weights do not fit the model in the config: "
                              + " ".join(first)) from None


# ----------------------------------------------------------------------------- optimizers
def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer state_dict into safetensors-able tensors and JSON-able rest."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def check_optimizer_info(info, what: str) -> None:
    """The JSON half of an optimizer's state must be what optimizer_tensors wrote: a dict with a
    list of param groups (numbers where Adam expects numbers) and a dict of scalars."""
    def bad(why):
        return CheckpointError(f"the {what} optimizer state in the checkpoint is damaged ({why}); "
                               "it cannot be resumed from")

    if not isinstance(info, dict) or not isinstance(info.get("param_groups"), list) or not info["param_groups"]:
        raise bad("no list of parameter groups")
    for g in info["param_groups"]:
        if not isinstance(g, dict) or not isinstance(g.get("params"), list):
            raise bad("a parameter group is not an object with a 'params' list")
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 1_000_000 for i in g["params"]):
            raise bad("'params' must list parameter numbers")
        for key in ("lr", "eps", "weight_decay"):
            v = g.get(key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (0 <= v < 1e6):
                raise bad(f"'{key}' is {str(v)[:40]!r}, not a number")
        betas = g.get("betas")
        if (not isinstance(betas, list) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise bad(f"'betas' is {str(betas)[:40]!r}, not two numbers below 1")
    scalars = info.get("scalars", {})
    if not isinstance(scalars, dict):
        raise bad("'scalars' is not an object")
    for k, v in scalars.items():
        idx, _, key = str(k).partition(".")
        if not idx.isdigit() or not key or not isinstance(v, (int, float)) or isinstance(v, bool):
            raise bad(f"scalar {str(k)[:40]!r} is {str(v)[:40]!r}")


def restore_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict, info: dict) -> None:
    check_optimizer_info(info, prefix)
    state: dict[int, dict] = {}
    p = prefix + "."
    for name, v in tensors.items():
        if name.startswith(p):
            idx, _, key = name[len(p):].partition(".")
            if not idx.isdigit() or not key:
                raise CheckpointError(f"the {prefix} optimizer tensor '{name[:80]}' has a name it cannot have")
            state.setdefault(int(idx), {})[key] = v
    for name, v in info.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = v
    groups = []
    for g in info["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError, TypeError, IndexError) as e:
        raise CheckpointError(f"the optimizer state does not fit the model: {str(e)[:300]}") from None
    for group in opt.param_groups:  # moments must have their parameter's shape (Adam would fail mid-step)
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if key in ("exp_avg", "exp_avg_sq") and (not torch.is_tensor(value) or value.shape != param.shape):
                    raise CheckpointError(f"the {prefix} optimizer state does not fit the model: '{key}' has "
                                          f"shape {tuple(getattr(value, 'shape', ()))}, the parameter {tuple(param.shape)}")
    # Tensors are saved contiguous; a parameter may not be (channels_last convolution weights).
    # Give each moment its parameter's memory layout again: fused Adam pairs a weight with its
    # moments by memory position, so a mismatch would silently scramble them after a resume.
    for group in opt.param_groups:
        for param in group["params"]:
            state = opt.state.get(param, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
