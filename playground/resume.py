"""Checks a run folder before a resume touches it: refuse with a plain message, or say where to go on.

A resume either continues a run whose files agree or changes nothing at all. ``plan_resume`` only
reads: it refuses (ResumeRefused, exit status 2) when an entry of the folder is a link or a special
file, when config.json cannot be used, when ``--epochs`` is fewer than the epochs the run has, when
no training checkpoint verifies and fits the model, or when the newest one that does is more than
one epoch behind what the run has saved (continuing would throw saved epochs away). Only after it
returns does the worker remove leftovers, write a status, or trim anything.

One epoch behind is allowed because the worker writes an epoch's grid, snapshot and metrics line
before its checkpoint: a kill in between leaves that epoch half saved, and it is trained again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import checkpoint, speed
from .config import LIVE_FIELDS, ConfigError, TrainConfig
from .families import step_class
from .models import ModelSpec
from .runs import Run, RunError


class ResumeRefused(RunError):
    """The run cannot be continued as asked; nothing in its folder was changed."""


@dataclass
class ResumePlan:
    cfg: TrainConfig                 # the run's config with the epoch count to train to
    checkpoint: tuple | None         # (tensors, meta) to continue from; None: nothing saved yet
    epoch: int                       # completed epochs the resume continues after
    notes: list[str] = field(default_factory=list)   # what the log should say (skipped files)


def new_run_hint(run: Run) -> str:
    return (f"start a new run from this run's settings (on the command line: python -m playground train "
            f"--config {run.config_path})")


def plan_resume(run: Run, epochs: int | None = None) -> ResumePlan:
    """Read everything a resume depends on and decide; ResumeRefused says what is missing and what
    to do. Never writes."""
    unsafe = run.unsafe_entries()
    if unsafe:
        raise ResumeRefused(f"{run.path} holds entries that are not regular files or folders: "
                            f"{'; '.join(unsafe[:3])}{' …' if len(unsafe) > 3 else ''}. A run folder holds "
                            "only what the trainer wrote; move these away, then resume again")
    try:
        doc = run.read_config_doc()
        cfg = run.read_config()
    except RunError as e:
        raise ResumeRefused(f"{e}; fix or restore config.json, or {new_run_hint(run)}") from None
    if epochs is not None:
        try:
            cfg = cfg.replace(epochs=epochs).validate()
        except ConfigError as e:
            raise ResumeRefused(f"--epochs: {e.errors.get('epochs', e)}") from None
    notes = []
    bad_lines = run.bad_metrics_lines()
    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:10])) + (" …" if len(bad_lines) > 10 else "")
        notes.append(f"metrics.jsonl: skipped {len(bad_lines)} line(s) that are not valid records "
                     f"(line {shown}); they are left out when the run continues")
    records, _ = run.read_metrics(0)
    status = run.read_worker_status() or {}   # what the run did (not the job manager's claim)
    status_epoch = status.get("epoch") if isinstance(status.get("epoch"), int) else 0
    saved = max([0, *run.sample_epochs(), *run.snapshot_epochs(),
                 *(r["epoch"] for r in records if r.get("type") == "epoch" and "epoch" in r)])
    has = max(saved, status_epoch if status.get("state") == "finished" else 0)

    chosen, damaged = None, []
    for stem in reversed(run.train_checkpoint_stems()):
        try:
            chosen = _verified(run, stem, cfg, doc)
            break
        except _Disagrees as e:  # the checkpoint is sound; config.json is what changed
            raise ResumeRefused(f"{run.config_path}: {e} Nothing was changed. Put back the settings the "
                                f"run trained with, or {new_run_hint(run)}") from None
        except checkpoint.CheckpointError as e:
            damaged.append(f"{stem.name}: {e}")
    if chosen is None:
        if damaged:
            raise ResumeRefused(f"{run.path} has no usable training checkpoint ({'; '.join(damaged[:3])}). "
                                f"Nothing was changed. Restore the checkpoint files, or {new_run_hint(run)}")
        if has > 1:
            raise ResumeRefused(f"{run.path} has no training checkpoint (checkpoints/train_step_*), so its "
                                f"{has} saved epochs cannot be trained further (a pretrained run keeps only "
                                f"its generator snapshots). Nothing was changed. To train more, {new_run_hint(run)}")
        return ResumePlan(cfg, None, 0, notes)   # a run killed in its first epoch: nothing is lost
    tensors, meta = chosen
    done = meta["epoch"]
    if saved > done + 1:
        raise ResumeRefused(f"the newest usable training checkpoint of {run.path} is of epoch {done}, but the "
                            f"run has saved epochs up to {saved}: continuing would throw epochs "
                            f"{done + 1}–{saved} away"
                            + (f" ({'; '.join(damaged[:2])})" if damaged else "")
                            + f". Nothing was changed. Restore the newer checkpoint files, or {new_run_hint(run)}")
    asked = f"--epochs {cfg.epochs}" if epochs is not None else f"config.json's epochs ({cfg.epochs})"
    if cfg.epochs < max(done, saved):
        raise ResumeRefused(f"{asked} is fewer than the {max(done, saved)} epochs this run has; "
                            f"give --epochs {max(done, saved) + 1} or more to train it further. Nothing was changed")
    if status.get("state") == "finished" and cfg.epochs <= done:
        raise ResumeRefused(f"the run has finished its {done} epochs, and {asked} asks for no more; give "
                            f"--epochs {done + 1} or more to train it further. Nothing was changed")
    notes += [f"Skipping checkpoint {d}" for d in damaged]
    return ResumePlan(cfg, chosen, done, notes)


class _Disagrees(Exception):
    """A checkpoint that verifies, made with other settings than config.json now holds."""


def _verified(run: Run, stem, cfg: TrainConfig, doc: dict):
    """(tensors, meta) of the checkpoint at ``stem`` if it verifies and fits this run in every part
    a resume uses (weights, both Adam states, live settings); CheckpointError otherwise."""
    tensors, meta = checkpoint.load(stem, device="cpu", root=run.path)
    if meta.get("kind") != "train":
        raise checkpoint.CheckpointError("it is not a training checkpoint")
    if not isinstance(meta.get("epoch"), int) or not isinstance(meta.get("step"), int):
        raise checkpoint.CheckpointError("it does not say which epoch and step it was saved at")
    try:
        saved_cfg = TrainConfig.from_dict(meta.get("config"), strict=False).to_dict()
    except ConfigError as e:
        raise checkpoint.CheckpointError(f"its copy of the settings is damaged: {e}") from None
    differ = sorted(k for k, v in cfg.to_dict().items() if k != "epochs" and saved_cfg.get(k) != v)
    if differ:
        was = ", ".join(f"{k}: {saved_cfg.get(k)!r}"[:80] for k in differ[:5])
        raise _Disagrees(f"the run was trained with other settings than config.json now holds ({was}): "
                         "was config.json edited by hand?")
    if doc.get("model") is not None and meta.get("model") != doc["model"]:
        raise _Disagrees("its 'model' entry no longer describes the model the run trained: was it edited by hand?")
    live = meta.get("live") or {}
    if not isinstance(live, dict):
        raise checkpoint.CheckpointError("its live settings are damaged: not an object")
    try:
        cfg.replace(**{k: live[k] for k in LIVE_FIELDS if k in live}).validate()
    except (ConfigError, TypeError) as e:
        raise checkpoint.CheckpointError(f"its live settings are damaged: {e}") from None
    try:
        spec = ModelSpec.from_dict(meta["model"])
        spec.validate()
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise checkpoint.CheckpointError(f"its model description is damaged: {e}") from None
    checkpoint.check_fits_file(spec, meta, with_d=True, what=stem.name)
    # the family's own networks and optimizers (InfoGAN's Q, BiGAN's encoder, …), built on the CPU
    step = step_class(cfg.family)(cfg, spec, speed.PLAIN, torch.device("cpu"), 1)
    names = {"G": "generator", "D": "discriminator"}
    for name, module in step.modules.items():
        checkpoint.load_module_state(module, checkpoint.unprefixed(name, tensors), names.get(name, name))
    for name, opt in step.optimizers.items():
        checkpoint.restore_optimizer(opt, name, tensors, _plain_groups(meta.get(name)))
    return tensors, meta


def _plain_groups(info):
    """A copy of the optimizer info with the saver's kernel flags cleared (the trial Adam is plain)."""
    if not isinstance(info, dict) or not isinstance(info.get("param_groups"), list):
        return info
    groups = [dict(g, fused=None, foreach=None) if isinstance(g, dict) else g for g in info["param_groups"]]
    return {**info, "param_groups": groups}
