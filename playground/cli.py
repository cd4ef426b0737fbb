"""Command line: ``python -m playground {train,sample,encode,presets,runs,jobs,bench}``.

Bad input exits with status 2 and one plain message, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from .config import ConfigError, TrainConfig, field_help

EXIT_USAGE = 2
DEFAULT_RUNS_ROOT = "runs"


class UsageError(Exception):
    pass


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    helps = field_help()
    g = p.add_argument_group("training settings (override the preset)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "preset":  # set by --preset itself
            continue
        default = f.default
        h = helps.get(f.name, "")
        if isinstance(default, bool):
            g.add_argument(_flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=h)
        else:
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            g.add_argument(_flag(f.name), dest=f.name, default=None, metavar="V",
                           help=f"{h} (default {shown})")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m playground",
                                 description="GAN Playground: train GANs and look inside them.")
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN into a run folder",
                       description="Train a GAN. Start from a preset (see `presets`) and override any setting.")
    t.add_argument("--preset", help="start from this preset")
    t.add_argument("--config", help="a JSON file of settings (as in a run's config.json 'config')")
    t.add_argument("--run-dir", help="the run folder (default: a new folder in ./runs)")
    t.add_argument("--runs-root", default=DEFAULT_RUNS_ROOT, help="where new run folders go")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its newest checkpoint (--epochs may raise the total)")
    t.add_argument("--quiet", action="store_true", help="do not echo the log to the terminal")
    _add_config_flags(t)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("--run-dir", required=True)
    s.add_argument("--epoch", type=int, help="a saved epoch (default: the newest snapshot)")
    s.add_argument("--class", dest="label", type=int, help="class index for conditional runs")
    s.add_argument("--code", type=int, help="InfoGAN: the categorical code's value, fixed for every sample")
    s.add_argument("--code-values", metavar="C1,C2",
                   help="InfoGAN: the continuous codes' values, each between -1 and 1, fixed for every sample")
    s.add_argument("--n", type=int, default=64, help="how many samples (1-10000)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="F.png (a grid) or F.npy (uint8 N×H×W[×C]; 2D toys: float32 N×2)")

    e = sub.add_parser("encode", help="find images' latent vectors with a BiGAN run's encoder",
                       description="Encode images with a BiGAN run's encoder E into latent vectors z. "
                                   "Images: a .npy file of uint8 pixels (0 = black) shaped [N, H, W] "
                                   "(grey) or [N, H, W, C], or of floats in [-1, 1] shaped [N, C, H, W] "
                                   "(what the generator outputs); H = W = the run's image size, C its "
                                   "channels. Writes float32 [N, z_dim].")
    e.add_argument("--run-dir", required=True)
    e.add_argument("--images", required=True, help="the images, a .npy file (never unpickled)")
    e.add_argument("--out", required=True, help="where the latent vectors go: F.npy, float32 [N, z_dim]")
    e.add_argument("--epoch", type=int, help="a saved epoch (default: the newest snapshot)")

    sub.add_parser("presets", help="list the presets")

    sub.add_parser("bench", add_help=False,  # parsed by playground.bench (see main)
                   help="time the training step against the textbook loop (bench --help)")

    _add_jobs_parser(sub)

    r = sub.add_parser("runs", help="list run folders")
    r.add_argument("--root", action="append", help="folder of runs (default: runs and pretrained)")
    r.add_argument("--json", action="store_true", help="print JSON")
    return ap


def _add_jobs_parser(sub) -> None:
    """``jobs``: the dashboard's job manager on the command line (local queue or a Ray cluster)."""
    j = sub.add_parser("jobs", help="submit, list, stop, pause and resume training jobs (as the dashboard does)",
                       description="Training jobs through the dashboard's job manager: the local queue "
                                   "(default) or a Ray cluster (--backend ray, or GAN_PLAYGROUND_BACKEND=ray; "
                                   "the cluster's address from RAY_ADDRESS).")
    verbs = j.add_subparsers(dest="verb", required=True)

    def common(p):
        p.add_argument("--runs-root", default=DEFAULT_RUNS_ROOT,
                       help="the runs folder (on a cluster: the one every node mounts)")
        p.add_argument("--backend", choices=("local", "ray"),
                       help="where jobs train (default: $GAN_PLAYGROUND_BACKEND, else local)")

    s = verbs.add_parser("submit", help="create a run and queue it (it starts when a slot is free)",
                         description="Create a run from a preset and any training setting, and hand it to "
                                     "the job manager; prints the run's id.")
    s.add_argument("--preset", help="start from this preset")
    s.add_argument("--config", help="a JSON file of settings (as in a run's config.json 'config')")
    common(s)
    _add_config_flags(s)
    ls = verbs.add_parser("list", help="the runs folder's jobs and their states")
    common(ls)
    ls.add_argument("--json", action="store_true", help="print JSON")
    for verb, text in (("stop", "save a checkpoint and stop (a queued run leaves the queue)"),
                       ("pause", "pause a training run (it keeps its slot)"),
                       ("resume", "continue a paused run, or an interrupted, stopped or failed one from "
                                  "its newest checkpoint")):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("run", metavar="RUN", help="the run's id in the runs folder (or its folder)")
        common(p)
        if verb == "resume":
            p.add_argument("--epochs", type=int, help="train until this epoch (a finished run: more epochs)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # its own parser: it needs torch, which the other commands load lazily
        from .bench import main as bench_main
        return bench_main(argv[1:], command="python -m playground " + " ".join(argv))
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "sample": cmd_sample, "encode": cmd_encode, "presets": cmd_presets,
                "runs": cmd_runs, "jobs": cmd_jobs}[args.command](args)
    except (UsageError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as e:  # RunError and the like: a folder or file given on the command line
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _overrides(args) -> dict:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if getattr(args, f.name, None) is not None}


def config_from_args(args) -> TrainConfig:
    from .presets import get_preset

    from .runs import MAX_JSON_BYTES, RunError, parse_json, read_bytes

    settings: dict = {}
    if args.config:
        try:  # a regular file only, read to a bound (never a FIFO or /dev/zero)
            doc = parse_json(read_bytes(Path(args.config), MAX_JSON_BYTES), args.config)
        except (OSError, RunError) as e:
            raise UsageError(f"--config {args.config}: cannot read it as JSON "
                             f"({getattr(e, 'strerror', None) or e})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("config", doc), dict):
            raise UsageError(f"--config {args.config}: must hold a JSON object of settings "
                             "(or a run's config.json)")
        settings.update(doc.get("config", doc))
    settings.update(_overrides(args))
    if args.preset:
        return get_preset(args.preset).config(**settings)
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **settings}).validate()


def cmd_train(args) -> int:
    from .runs import Run, RunError, new_run_id
    from .worker import train_run

    if args.resume:
        if not args.run_dir:
            raise UsageError("--resume needs --run-dir, the folder of the run to continue")
        extra = set(_overrides(args)) - {"epochs"}
        if extra or args.preset or args.config:
            raise UsageError("--resume continues a run with its own settings; only --epochs may be given "
                             f"(got {', '.join(sorted(_flag(x) for x in extra)) or '--preset/--config'})")
        run = Run(Path(args.run_dir))
        if not os.path.lexists(run.config_path):  # anything else there is for the resume check to name
            raise UsageError(f"--run-dir {args.run_dir}: there is no run to resume there")
        epochs = None
        if args.epochs is not None:
            try:
                epochs = int(args.epochs)
            except ValueError:
                raise ConfigError({"epochs": f"must be a whole number, got {args.epochs!r}"}) from None
        return train_run(run, resume=True, epochs=epochs, echo=not args.quiet)

    if args.run_dir and Path(args.run_dir, "config.json").is_file():
        # A folder prepared by the job manager (state 'queued'): train it as it is.
        if _overrides(args) or args.preset or args.config:
            raise UsageError(f"--run-dir {args.run_dir} already holds a run; use --resume to continue it")
        return train_run(Run(Path(args.run_dir)), echo=not args.quiet)

    cfg = config_from_args(args)
    from .memory import check_config
    check_config(cfg)  # models that cannot fit are refused before a run folder is made
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.runs_root) / new_run_id(cfg.name or cfg.preset)
    run = Run(run_dir)
    try:
        run.create(cfg)
    except RunError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot create the run folder {run_dir}: {e.strerror}") from None
    print(f"run folder: {run_dir}", file=sys.stderr)
    return train_run(run, echo=not args.quiet)


def _run_folder(path: str):
    """The run folder ``--run-dir`` names; UsageError when it is not one (or its config is a link)."""
    from .runs import Run, entry_kind

    run = Run(Path(path))
    if entry_kind(run.config_path):
        raise UsageError(f"--run-dir {path}: {run.config_path} is {entry_kind(run.config_path)}, "
                         "not a run's config.json: refused")
    if not run.config_path.is_file():
        raise UsageError(f"--run-dir {path}: not a run folder (no config.json)")
    return run


def cmd_sample(args) -> int:
    import numpy as np

    from . import sampling
    from .checkpoint import CheckpointError
    from .runs import RunError, atomic_write_bytes

    if not 1 <= args.n <= 10_000:
        raise UsageError(f"--n must be between 1 and 10000, got {args.n}")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be a whole number from 0 to {2**63 - 1}, got {args.seed}")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise UsageError(f"--out must end in .png or .npy, got {args.out}")
    run = _run_folder(args.run_dir)
    for entry in run.unsafe_entries():  # never read; said so, since the newest snapshot may be skipped
        print(f"note: {entry}: left alone (a run folder holds only regular files and folders)", file=sys.stderr)
    code_values = _code_values(args.code_values)
    try:
        G, _, meta = sampling.load_snapshot(run, args.epoch)
        label = _label_or_code(G, args)
        x = sampling.generate(G, args.n, seed=args.seed, label=label, code_values=code_values)
    except (RunError, CheckpointError, ValueError) as e:
        raise UsageError(str(e)) from None
    if x.dim() == 2:  # 2D toy points
        if out.suffix.lower() == ".png":
            img = sampling.toy_plot(None, x.numpy(), None)
            data = sampling.png_bytes(img)
        else:
            import io
            buf = io.BytesIO()
            np.save(buf, x.numpy().astype(np.float32))
            data = buf.getvalue()
    else:
        imgs = sampling.to_uint8(x)  # [N, H, W, C]
        if out.suffix.lower() == ".png":
            ncol = int(np.ceil(np.sqrt(args.n)))
            data = sampling.png_bytes(sampling.make_grid(imgs, ncol))
        else:
            import io
            arr = imgs[..., 0] if imgs.shape[-1] == 1 else imgs
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr))
            data = buf.getvalue()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, data)
    except OSError as e:
        raise UsageError(f"--out {args.out}: cannot write there ({e.strerror or e})") from None
    print(f"wrote {args.n} samples of epoch {meta['epoch']} to {out}", file=sys.stderr)
    return 0


def _code_values(text: str | None) -> list[float] | None:
    """--code-values "c1,c2" as numbers (their count and range are checked against the run)."""
    if text is None:
        return None
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise UsageError(f"--code-values must be numbers between -1 and 1 separated by commas, such as "
                         f"0.5,-1; got {text!r}") from None


def _label_or_code(G, args) -> int | None:
    """The label G is given: --class for a conditional run, --code for InfoGAN's categorical code."""
    infogan = getattr(G, "label_role", "class") == "code"
    if infogan and args.label is not None:
        raise UsageError("this is an InfoGAN run: its generator takes a categorical code, not a class "
                         "(the codes were never given labels); use --code K")
    if not infogan and (args.code is not None or args.code_values is not None):
        raise UsageError("--code and --code-values are for InfoGAN runs, whose generator takes codes; "
                         "this run has none" + (" (use --class for a class)" if G.num_classes else ""))
    if infogan and args.code_values is not None and not getattr(G, "cont_codes", 0):
        raise UsageError("this InfoGAN run has no continuous codes, so --code-values has nothing to set")
    return args.code if infogan else args.label


MAX_ENCODE_BYTES = 2 << 30   # a .npy of images larger than this is refused before it is read


def cmd_encode(args) -> int:
    import io

    import numpy as np

    from . import latent
    from .checkpoint import CheckpointError
    from .runs import RunError, atomic_write_bytes

    src, out = Path(args.images), Path(args.out)
    if out.suffix.lower() != ".npy":
        raise UsageError(f"--out must end in .npy, got {args.out}")
    if src.suffix.lower() != ".npy":
        raise UsageError(f"--images must be a .npy file, got {args.images}")
    run = _run_folder(args.run_dir)
    try:
        info = src.stat()
    except OSError as e:
        raise UsageError(f"--images {args.images}: cannot be read ({e.strerror or e})") from None
    if not src.is_file():
        raise UsageError(f"--images {args.images}: not a regular file")
    if info.st_size > MAX_ENCODE_BYTES:
        raise UsageError(f"--images {args.images}: {info.st_size:,} bytes is more than the "
                         f"{MAX_ENCODE_BYTES:,} bytes this command reads; split it")
    try:
        with open(src, "rb") as f:
            arr = np.load(io.BytesIO(f.read()), allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UsageError(f"--images {args.images}: not a readable .npy array of numbers ({e})") from None
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"--images {args.images}: an .npz archive; give one .npy array")
    try:
        epoch = args.epoch
        if epoch is None:
            epochs = run.snapshot_epochs()
            if not epochs:
                raise RunError(f"{run.path} has no generator snapshots yet")
            epoch = epochs[-1]
        gen = latent.load_generator(run, epoch)
        if gen.E is None:
            raise UsageError(f"--run-dir {args.run_dir}: this run has no encoder (family "
                             f"{run.read_config().family}); only BiGAN runs can encode images")
        x = latent.array_to_images(gen, arr)
        z = latent.encode_tensor(gen, x)
    except (RunError, CheckpointError) as e:
        raise UsageError(str(e)) from None
    except ValueError as e:
        raise UsageError(f"--images {args.images}: {e}") from None
    buf = io.BytesIO()
    np.save(buf, z.numpy().astype(np.float32))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, buf.getvalue())
    except OSError as e:
        raise UsageError(f"--out {args.out}: cannot write there ({e.strerror or e})") from None
    print(f"wrote the latent vectors of {len(z)} images ({z.shape[1]} numbers each) from epoch {epoch} "
          f"to {out}", file=sys.stderr)
    return 0


def cmd_presets(args) -> int:
    from .presets import PRESETS

    for p in PRESETS.values():
        print(f"{p.name:24s} {p.title}\n{'':24s} {p.description}")
    return 0


def cmd_runs(args) -> int:
    from .runs import list_runs

    roots = args.root or [DEFAULT_RUNS_ROOT, "pretrained"]
    rows = []
    for root in roots:
        for run in list_runs(root):
            try:
                cfg = run.read_config()
                status = run.read_status()
            except Exception as e:  # one bad folder must not hide the others
                rows.append({"run": str(run.path), "state": "unreadable", "error": str(e)})
                continue
            rows.append({"run": str(run.path), "state": run.state(), "dataset": cfg.dataset,
                         "arch": cfg.arch, "objective": cfg.objective, "epoch": status.get("epoch", 0),
                         "epochs": cfg.epochs, "mb": round(run.size_bytes() / 1e6, 2)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no runs yet; start one with: python -m playground train --preset classroom")
        return 0
    for r in rows:
        if r["state"] == "unreadable":
            print(f"{r['run']}  unreadable: {r['error']}")
        else:
            print(f"{r['run']}  {r['state']:11s} {r['dataset']:13s} {r['arch']:5s} {r['objective']:8s} "
                  f"epoch {r['epoch']}/{r['epochs']}  {r['mb']} MB")
    return 0


# ----------------------------------------------------------------------------- jobs
def _job_run(args, manager):
    """The run named on the command line: an id in --runs-root, or the path of a run folder in it."""
    from .runs import RunError, resolve_run

    name = args.run
    if os.sep in name or name in (".", ".."):
        path = Path(name).resolve()
        if path.parent != manager.root.resolve():
            raise UsageError(f"{name} is not a run folder of --runs-root {args.runs_root}")
        name = path.name
    try:
        return resolve_run(manager.root, name)
    except RunError as e:
        raise UsageError(str(e)) from None


def cmd_jobs(args) -> int:
    from .cluster import ClusterUnavailable
    from .jobs import JobManager, job_backend

    manager = JobManager(args.runs_root, backend=args.backend)
    try:
        if args.verb == "submit":
            cfg = config_from_args(args)
            run = manager.submit(cfg)
            print(f"{run.id}  {run.state()}  ({manager.backend} backend, runs folder {args.runs_root})")
            return 0
        if args.verb == "list":
            return _list_jobs(manager, args.json)
        run = _job_run(args, manager)
        if job_backend(run) != manager.backend and run.state() in ("queued", "running", "paused"):
            raise UsageError(f"run {run.id} is a job of the {job_backend(run)} backend; "
                             f"give --backend {job_backend(run)}")
        state = run.state()
        if args.verb == "stop":
            if state not in ("queued", "running", "paused"):
                raise UsageError(f"run {run.id} is {state}; only a queued, running or paused run can be stopped")
            manager.stop(run)
            print(f"{run.id}: " + ("removed from the queue" if state == "queued" else
                                   "asked to stop; the worker saves a checkpoint after its current step"))
            return 0
        if args.verb == "pause":
            if state != "running":
                raise UsageError(f"run {run.id} is {state}; only a running run can be paused")
            manager.pause(run)
            print(f"{run.id}: asked to pause; the worker does it after its current step")
            return 0
        # resume
        if state == "paused":
            if args.epochs is not None:
                raise UsageError("--epochs continues an ended run; a paused run resumes as it was")
            manager.unpause(run)
            print(f"{run.id}: asked to resume; the worker does it after its current step")
            return 0
        if not manager.resume(run, epochs=args.epochs):
            print(f"{run.id}: every training slot is busy; try again when a run ends", file=sys.stderr)
            return 1
        print(f"{run.id}  {run.state()}")
        return 0
    except ClusterUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _list_jobs(manager, as_json: bool) -> int:
    from .jobs import job_backend

    manager.sync(force=True)
    rows = []
    for run in manager.runs():
        try:
            status, cfg = run.read_status(), run.read_config()
        except (OSError, ValueError) as e:
            rows.append({"run": run.id, "state": "unreadable", "error": str(e)})
            continue
        job = run.read_job()
        rows.append({"run": run.id, "state": run.state(), "backend": job_backend(run),
                     "epoch": status.get("epoch", 0), "epochs": status.get("epochs") or cfg.epochs,
                     "preset": cfg.preset, "submission_id": job.get("submission_id")})
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no runs in {manager.root}; submit one with: python -m playground jobs submit --preset classroom")
    for r in rows if not as_json else ():
        if r["state"] == "unreadable":
            print(f"{r['run']}  unreadable: {r['error']}")
        else:
            print(f"{r['run']}  {r['state']:11s} {r['backend']:5s} epoch {r['epoch']}/{r['epochs']}  {r['preset']}")
    return 0
