"""What the compare page computes, kept apart from the widgets (no Streamlit here): epoch
alignment of two runs, their metric records, the metrics table, and the default pair to compare."""

from __future__ import annotations

import math

from playground.i18n import N_, format_number, t
from playground.runs import Run, RunError

# Epoch-record fields in the order a learner reads them, with plain names.
KNOWN_METRICS = {   # message ids
    "loss_d": N_("D loss"),
    "loss_g": N_("G loss"),
    "d_real": N_("D(x): D on real images"),
    "d_fake": N_("D(G(z)): D on fakes"),
    "score_real": N_("D's score for real images (its output before it is turned into a probability)"),
    "score_fake": N_("D's score for fakes (its output before it is turned into a probability)"),
    "epoch_seconds": N_("seconds per epoch"),
    "images_per_s": N_("images per second"),
    "quality_fd": N_("Fréchet distance in classifier features (lower is better)"),
    "quality_confident": N_("share of fakes the classifier is sure about"),
    "quality_classes": N_("classes the fakes cover"),
    "quality_modes_covered": N_("clusters covered"),
    "quality_off_mode": N_("share of points off every cluster"),
    "diversity": N_("diversity of the fixed batch"),
}
NOT_METRICS = {"type", "epoch", "step", "time", "quality_available", "quality_n", "quality_modes"}


def _flat(record: dict) -> dict:
    """One level of nesting flattened: {"quality": {"fd": 3.2}} → {"quality_fd": 3.2}."""
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out.update({f"{k}_{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def epoch_records(run: Run) -> dict[int, dict]:
    """{epoch: its "epoch" line of metrics.jsonl, flattened}, with the "quality" line of epoch 0
    (before training) merged in; a later line for the same epoch wins."""
    records, _ = run.read_metrics(0)
    out: dict[int, dict] = {}
    for r in records:
        if r.get("type") in ("epoch", "quality") and isinstance(r.get("epoch"), int):
            out.setdefault(r["epoch"], {}).update(_flat(r))
    return out


def step_records(run: Run) -> list[dict]:
    records, _ = run.read_metrics(0)
    return [r for r in records if r.get("type") == "step"]


def steps_per_epoch(run: Run, epochs: dict[int, dict]) -> float | None:
    """Optimizer steps in one epoch, from status.json or else from the epoch lines."""
    spe = run.read_status().get("steps_per_epoch")
    if isinstance(spe, (int, float)) and spe > 0:
        return float(spe)
    for e, r in sorted(epochs.items()):
        if e > 0 and isinstance(r.get("step"), (int, float)) and r["step"] > 0:
            return r["step"] / e
    return None


def shared_epochs(a: list[int], b: list[int]) -> tuple[list[int], bool]:
    """The epochs for one scrubber over two runs: those both have (exact=True) when there are at
    least two, else every epoch either has (exact=False; each run shows its nearest)."""
    both = sorted(set(a) & set(b))
    if len(both) >= 2 or not (a and b):
        return both, True
    return sorted(set(a) | set(b)), False


def nearest(epochs: list[int], epoch: int) -> int | None:
    """The saved epoch closest to ``epoch`` (the earlier one on a tie); None when there is none."""
    if not epochs:
        return None
    return min(epochs, key=lambda e: (abs(e - epoch), e))


def metric_fields(*records: dict | None) -> list[str]:
    """Numeric fields present in any of ``records``: the known ones first, then the rest (such as
    quality scores) in name order. Nothing is listed that no record holds."""
    present = set()
    for r in records:
        if not r:
            continue
        for k, v in r.items():
            if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool):
                present.add(k)
    known = [k for k in KNOWN_METRICS if k in present]
    return known + sorted(present - set(known))


def _fmt(v, lang: str = "en") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, int) or abs(v) >= 1000:
        return format_number(v, lang, decimals=0)
    if abs(v) >= 0.001 or v == 0:
        return format_number(v, lang, significant=4)
    return f"{v:.2e}".replace(".", "," if lang == "pt" else ".")


def metrics_table(columns: dict[str, dict | None], lang: str = "en") -> list[dict]:
    """Rows ``{"metric": name, <column>: formatted value, ...}`` for the fields any column has;
    "—" where a column has no value (epoch 0 has no record: nothing was trained yet)."""
    fields = metric_fields(*columns.values())
    rows = []
    for f in fields:
        row = {t("metric", lang): t(KNOWN_METRICS[f], lang) if f in KNOWN_METRICS else f}
        for name, rec in columns.items():
            row[name] = _fmt((rec or {}).get(f), lang)
        rows.append(row)
    return rows


def noise_note(cfg_a, cfg_b, lang: str = "en") -> tuple[bool, str]:
    """Whether both runs' grids come from the same fixed noise, and a sentence (Markdown, in
    ``lang``) saying so or why not. Every value in it is a number from the configs."""
    why = []
    if cfg_a.z_dim != cfg_b.z_dim:
        why.append(t("their latent sizes differ (z_dim {a} and {b})", lang, a=int(cfg_a.z_dim), b=int(cfg_b.z_dim)))
    if cfg_a.sample_seed != cfg_b.sample_seed:
        why.append(t("their noise seeds differ ({a} and {b})", lang, a=int(cfg_a.sample_seed),
                     b=int(cfg_b.sample_seed)))
    if cfg_a.is_toy != cfg_b.is_toy:
        why.append(t("one is a 2D toy run and the other an image run", lang))
    elif bool(cfg_a.conditional) != bool(cfg_b.conditional) or (
            not cfg_a.conditional and cfg_a.sample_count != cfg_b.sample_count):
        why.append(t("their grids are laid out differently", lang))
    if why:
        return False, t("These grids do **not** come from the same noise: {reasons}, so compare their "
                        "overall quality, not image by image.", lang, reasons="; ".join(why))
    return True, t("Both grids come from the same fixed noise (seed {seed}, z_dim {z_dim}): the image in "
                   "the same place of each grid started from the same z, so differences come from the "
                   "models alone.", lang, seed=int(cfg_a.sample_seed), z_dim=int(cfg_a.z_dim))


def default_pair(refs: list) -> tuple[str | None, str | None]:
    """Keys of the runs to compare first: a GAN (mlp) and a DCGAN on the same dataset (and both
    conditional or both not), pretrained ones first (``refs`` come pretrained first); else the
    first two runs."""
    info = []
    for ref in refs:
        try:
            cfg = ref.run.read_config()
        except (RunError, ValueError):
            continue
        info.append((ref.key, cfg.arch, (cfg.dataset, cfg.conditional), ref.readonly))
    for pre_only in (True, False):
        for ka, arch_a, data_a, ro_a in info:
            if arch_a != "mlp" or (pre_only and not ro_a):
                continue
            for kb, arch_b, data_b, ro_b in info:
                if arch_b == "dcgan" and data_b == data_a and (ro_b or not pre_only):
                    return ka, kb
    keys = [k for k, *_ in info]
    if len(keys) >= 2:
        return keys[0], keys[1]
    return (keys[0] if keys else None), None
