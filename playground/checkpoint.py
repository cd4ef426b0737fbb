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

from .runs import atomic_write_bytes, atomic_write_json

CHECKPOINT_FORMAT = 1
MAX_JSON_BYTES = 4 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, edited or not from GAN Playground."""


def save(stem: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``stem``.safetensors then ``stem``.json, each atomically."""
    stem = Path(stem)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    data = st_save(flat)
    atomic_write_bytes(stem.with_suffix(".safetensors"), data)
    doc = {"checkpoint_format": CHECKPOINT_FORMAT, **meta,
           "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    doc["meta_sha256"] = _meta_hash(doc)
    atomic_write_json(stem.with_suffix(".json"), doc)


def _meta_hash(doc: dict) -> str:
    """sha256 of the description without its own hash (canonical JSON: sorted keys, no spaces)."""
    rest = {k: v for k, v in doc.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load(stem: str | os.PathLike, device="cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify a checkpoint; CheckpointError with a plain message if anything is off."""
    stem = Path(stem)
    jpath, tpath = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    try:
        if jpath.stat().st_size > MAX_JSON_BYTES:
            raise CheckpointError(f"{jpath.name} is too large to be a checkpoint description")
        meta = json.loads(jpath.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{jpath} is missing: the checkpoint is incomplete") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{jpath.name} is not valid JSON ({e}); the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("checkpoint_format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{jpath.name} is not a GAN Playground checkpoint description")
    # Descriptions written before meta_sha256 existed carry none and are accepted as they are.
    if "meta_sha256" in meta and meta["meta_sha256"] != _meta_hash(meta):
        raise CheckpointError(f"{jpath.name} was edited by hand: its contents no longer match the hash "
                              "written with it, so the checkpoint cannot be trusted")
    for key in ("epoch", "step"):
        if key in meta and not (isinstance(meta[key], int) and not isinstance(meta[key], bool) and meta[key] >= 0):
            raise CheckpointError(f"{jpath.name}: '{key}' must be a whole number of at least 0, got {meta[key]!r}")
    try:
        data = tpath.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{tpath} is missing") from None
    if len(data) != meta.get("bytes") or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"{tpath.name} does not match its description (truncated, or edited "
                              "by hand): its size or checksum differs")
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise CheckpointError(f"{tpath.name} is not a readable safetensors file: {e}") from None
    return {k: v.to(device) for k, v in tensors.items()}, meta


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


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
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def restore_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict, info: dict) -> None:
    state: dict[int, dict] = {}
    p = prefix + "."
    for name, v in tensors.items():
        if name.startswith(p):
            idx, key = name[len(p):].split(".", 1)
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
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"the optimizer state does not fit the model: {e}") from None
    # Tensors are saved contiguous; a parameter may not be (channels_last convolution weights).
    # Give each moment its parameter's memory layout again: fused Adam pairs a weight with its
    # moments by memory position, so a mismatch would silently scramble them after a resume.
    for group in opt.param_groups:
        for param in group["params"]:
            st = opt.state.get(param, {})
            for key, value in st.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    st[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
