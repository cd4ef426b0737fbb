"""Write benchmarks/quality.md: the quality figure per epoch of the pretrained runs.

    python scripts/quality_report.py [--pretrained pretrained] [--out benchmarks/quality.md] [--n N]

Part 1 reads the figure the worker logged after every epoch (metrics.jsonl), so the table is what
the dashboard shows. Part 2 scores the saved generator snapshots again, drawing fresh samples the way
``python -m playground sample`` does (the float16 snapshots, another noise seed; as many as the run
scored per epoch unless ``--n`` says otherwise), to check that the logged figure is reproducible
from what is shipped and ranks the epochs the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground import quality, sampling  # noqa: E402
from playground.runs import Run  # noqa: E402

SHOW = (0, 1, 2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100)
PAIR = ("gan-fashion-report1", "dcgan-fashion-report1")


def logged(run: Run) -> dict[int, dict]:
    records, _ = run.read_metrics()
    return {r["epoch"]: r for r in records if "quality" in r}


def events(run: Run) -> list[dict]:
    records, _ = run.read_metrics()
    return [r for r in records if r["type"] == "event"]


def fmt(v, digits=2):
    if v is None:
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def image_table(rows: dict[int, dict], epochs) -> list[str]:
    out = ["| epoch | FD ↓ | confident | classes |", "|---:|---:|---:|---:|"]
    for e in epochs:
        q = rows[e]["quality"]
        out.append(f"| {e} | {fmt(q['fd'])} | {fmt(q['confident'])} | {q['classes']} |")
    return out


def refs_line(cfg) -> str:
    meta = quality.load_classifier(cfg.dataset).meta
    r = quality.reference_points(meta, cfg.quality_samples)
    return (f"Reference points of the {cfg.dataset} classifier (test accuracy {meta['test_accuracy']:.3f}) "
            f"with {r['n']:,} images: real training images vs test FD {r['real_train_vs_test']['fd']:.2f} "
            f"(confident {r['real_train_vs_test']['confident']:.2f}, {r['real_train_vs_test']['classes']} "
            f"classes) is the floor; uniform noise FD {r['uniform_noise_vs_test']['fd']:.1f} and Gaussian "
            f"noise FD {r['gaussian_noise_vs_test']['fd']:.1f} are the ceiling.")


@torch.no_grad()
def rescore(run: Run, n: int | None) -> list[tuple[int, dict]]:
    """Score every snapshot again from n fresh samples (seed 0, as `playground sample` draws)."""
    cfg = run.read_config()
    n = n or cfg.quality_samples
    out = []
    for e in run.snapshot_epochs():
        G, _, _ = sampling.load_snapshot(run, e)
        x = sampling.generate(G, n, seed=0)
        info = run.read_config_doc()["data"]
        out.append((e, quality.quality_for(x, cfg.dataset, info["kind"], info["image_size"], info["channels"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrained", type=Path, default=ROOT / "pretrained")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "quality.md")
    ap.add_argument("--n", type=int, default=None,
                    help="samples per snapshot in part 2 (default: as many as the run scored per epoch)")
    args = ap.parse_args()
    torch.manual_seed(0)
    runs = {p.name: Run(p) for p in sorted(args.pretrained.iterdir()) if (p / "config.json").is_file()}
    cmd = "python scripts/quality_report.py" + (f" --n {args.n}" if args.n else "")
    L = ["# Quality figure of the pretrained runs", "",
         f"Made by `{cmd}` from the run folders in `pretrained/`. What the numbers mean: README, "
         "\"Quality figure\". FD is the Fréchet distance in the project's own small classifier's "
         "features (lower is better), not FID in Inception features; compare it only with the "
         "reference points of the same classifier and sample size.", ""]

    # ---- the course report's claim: DCGAN beats the MLP GAN at equal epochs
    if all(k in runs for k in PAIR):
        ga, dc = (logged(runs[k]) for k in PAIR)
        cfg = runs[PAIR[1]].read_config()
        common = sorted(set(ga) & set(dc))
        shown = [e for e in common if e in SHOW or e == common[-1]]
        L += ["## GAN (MLP) against DCGAN on Fashion-MNIST, equal epochs", "",
              f"Both runs: the first course report's settings, {runs[PAIR[0]].read_config_doc()['data']['n']:,} "
              f"training images, {cfg.quality_samples:,} samples scored per epoch (the fixed grid batch "
              "plus fresh samples, the same noise every epoch).", "", refs_line(cfg), "",
              "| epoch | GAN FD | DCGAN FD | GAN confident | DCGAN confident | GAN classes | DCGAN classes |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
        for e in shown:
            a, b = ga[e]["quality"], dc[e]["quality"]
            L.append(f"| {e} | {fmt(a['fd'])} | {fmt(b['fd'])} | {fmt(a['confident'])} | "
                     f"{fmt(b['confident'])} | {a['classes']} | {b['classes']} |")
        trained = [e for e in common if e >= 1]
        wins = sum(dc[e]["quality"]["fd"] < ga[e]["quality"]["fd"] for e in trained)
        last = trained[-10:]
        mean = lambda rows: sum(rows[e]["quality"]["fd"] for e in last) / len(last)  # noqa: E731
        verdict = "beats" if wins > len(trained) / 2 and mean(dc) < mean(ga) else "does not beat"
        L += ["", f"**DCGAN {verdict} the MLP GAN** on this figure: its FD is lower at {wins} of "
                  f"{len(trained)} epochs; mean FD over epochs {last[0]}–{last[-1]}: DCGAN "
                  f"{mean(dc):.2f}, GAN {mean(ga):.2f}.", ""]

    # ---- every run, its own table
    L += ["## Every pretrained run", ""]
    for name, run in runs.items():
        cfg = run.read_config()
        rows = logged(run)
        L += [f"### {name}", "", f"{cfg.name}. Preset `{cfg.preset}`, {cfg.arch} / {cfg.objective}"
              f"{', conditional' if cfg.conditional else ''}, {run.read_config_doc()['data']['n']:,} "
              f"training examples, {cfg.epochs} epochs.", ""]
        q0 = rows[0]["quality"]
        epochs = [e for e in sorted(rows) if e in SHOW or e == max(rows)]
        if not q0.get("available"):
            L += [f"No quality figure: {q0['reason']}.", ""]
        elif "modes" in q0:
            L += ["| epoch | modes covered | off-mode share |", "|---:|---:|---:|"]
            L += [f"| {e} | {rows[e]['quality']['modes_covered']} of {rows[e]['quality']['modes']} | "
                  f"{fmt(rows[e]['quality']['off_mode'])} |" for e in epochs]
            L.append("")
        else:
            L += [refs_line(cfg), ""] + image_table(rows, epochs) + [""]
        ev = events(run)
        if ev:
            L += ["Warnings raised during training:", ""]
            L += [f"- epoch {e['epoch']}, step {e['step']}: **{e['kind']}**. {e['message']}" for e in ev]
        else:
            L.append("No failure-mode warnings were raised during training.")
        L.append("")

    # ---- reproducibility from the shipped snapshots
    L += ["## The figure again, from the shipped snapshots", "",
          "Each snapshot scored again with fresh samples drawn as `python -m playground sample` draws "
          f"them (seed 0, float16 weights, {f'{args.n:,} samples' if args.n else 'as many samples as the run scored per epoch'}), "
          "next to the figure logged during training from other noise.", "",
          "| run | epoch | logged FD | snapshot FD | logged classes | snapshot classes |",
          "|---|---:|---:|---:|---:|---:|"]
    agree = []
    for name, run in runs.items():
        rows = logged(run)
        if not rows[0]["quality"].get("available") or "fd" not in rows[0]["quality"]:
            continue
        pairs = []
        for e, q in rescore(run, args.n):
            a = rows[e]["quality"]
            pairs.append((a["fd"], q["fd"]))
            L.append(f"| {name} | {e} | {fmt(a['fd'])} | {fmt(q['fd'])} | {a['classes']} | {q['classes']} |")
        order = lambda vals: sorted(range(len(vals)), key=vals.__getitem__)  # noqa: E731
        same = order([p[0] for p in pairs]) == order([p[1] for p in pairs])
        agree.append(f"- {name}: the snapshots rank {'in the same order' if same else 'in a different order'} "
                     "by the logged and by the recomputed FD.")
    L += [""] + agree + [""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(L))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
