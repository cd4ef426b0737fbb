"""The in-process checks of ``benchmarks/gpu_check.sh`` (one per call, each in its own process, so a
CUDA error in one cannot poison the next). Each prints one plain line on failure and exits non-zero.

    python benchmarks/gpu_check.py device                 # cuda, mps or none
    python benchmarks/gpu_check.py verify RUN DEVICE_TYPE # a finished run, trained there, finite
    python benchmarks/gpu_check.py toy-points RUN         # a 2D toy's fakes are not bf16-rounded
    python benchmarks/gpu_check.py adam-state RUN DEVICE  # resumed for-each Adam: step counters on the CPU
    python benchmarks/gpu_check.py set-device RUN DEVICE  # point a run's config at another device
    python benchmarks/gpu_check.py oom DEVICE             # loading data onto a full GPU says so
    python benchmarks/gpu_check.py auto-gpu               # auto avoids a GPU whose memory is taken
"""

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from playground import devices  # noqa: E402
from playground.runs import Run  # noqa: E402


SKIP = 3   # the exit status of a check that cannot run on this machine


def fail(msg: str) -> int:
    print(msg)
    return 1


def device() -> int:
    print("cuda" if devices.gpu_count() else "mps" if devices.mps_available() else "none")
    return 0


def verify(run_dir: str, kind: str) -> int:
    run = Run(Path(run_dir))
    st = run.read_status()
    if st.get("state") != "finished":
        return fail(f"state {st.get('state')!r}: {st.get('error') or st.get('message')}")
    if torch.device(st.get("device", "?")).type != kind:
        return fail(f"trained on {st.get('device')!r}, not on {kind}")
    records, _ = run.read_metrics()
    epochs = [r for r in records if r.get("type") == "epoch"]
    if not epochs:
        return fail("no epoch lines in metrics.jsonl")
    bad = [r["epoch"] for r in epochs if not all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k])
                                                 for k in ("loss_d", "loss_g"))]
    if bad:
        return fail(f"losses not finite in epochs {bad}")
    if not list(run.path.glob("samples/epoch_*.png")):
        return fail("no sample grid was written")
    print(f"{len(epochs)} epochs, last loss_d {epochs[-1]['loss_d']:.3f} loss_g {epochs[-1]['loss_g']:.3f}, "
          f"{epochs[-1].get('images_per_s', 0):.0f} img/s")
    return 0


def toy_points(run_dir: str) -> int:
    """Under bf16 the fakes of a mode near |x| = 4 fall on a handful of values (0.031 apart)."""
    run = Run(Path(run_dir))
    last = sorted(run.path.glob("samples/epoch_*.npz"))[-1]
    fake = np.load(last)["fake"]
    if fake.dtype != np.float32:
        return fail(f"fakes stored as {fake.dtype}")
    distinct = len(np.unique(fake[:, 0]))
    if distinct < 0.9 * len(fake):
        return fail(f"only {distinct} distinct x values among {len(fake)} fakes: rounded to a coarse type")
    print(f"{distinct} distinct x values among {len(fake)} fakes")
    return 0


def adam_state(run_dir: str, dev: str) -> int:
    from playground.data import load_dataset
    from playground.training import Hooks, Trainer, pick_device

    run = Run(Path(run_dir))
    cfg = run.read_config()
    device = pick_device(dev)
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir or None, image_size=cfg.image_size or None,
                        channels=cfg.channels or None, max_images=cfg.max_images or None,
                        seed=cfg.seed, source=cfg.data_source, device=device)
    t = Trainer(run, cfg.replace(epochs=cfg.epochs + 1), data, device, Hooks(), resume=True)
    for opt in (t.opt_g, t.opt_d):
        for st in opt.state.values():
            if st["step"].device.type != ("cpu" if not t.speed.fused_adam else device.type):
                return fail(f"Adam's step counter is on {st['step'].device} (fused={t.speed.fused_adam})")
            if st["exp_avg"].device.type != device.type:
                return fail(f"Adam's moments are on {st['exp_avg'].device}, not {device}")
    t.fit()
    print(f"resumed at step {t.step - t.steps_per_epoch}, step counters on the CPU, trained one more epoch")
    return 0


def set_device(run_dir: str, dev: str) -> int:
    path = Path(run_dir) / "config.json"
    doc = json.loads(path.read_text())
    doc["config"]["device"] = dev
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def oom(dev: str) -> int:
    from playground.data import DataError, load_dataset

    device = torch.device(dev)
    free, _ = torch.cuda.mem_get_info(device)
    hogs = []
    try:  # take all but a little of the free memory, as other jobs on a shared GPU would
        for chunk in (2**30, 2**26, 2**22, 2**20):
            while True:
                hogs.append(torch.empty(chunk, dtype=torch.uint8, device=device))
    except torch.OutOfMemoryError:
        pass
    try:
        load_dataset("fashion-mnist", source="bundled", device=device)
    except DataError as e:
        if "out of memory" not in str(e):
            return fail(f"wrong message: {e}")
        print(str(e)[:160])
        return 0
    return fail(f"the data loaded although {len(hogs)} blocks filled the {free / 2**30:.1f} GiB free")


def auto_gpu() -> int:
    from playground.training import pick_device

    n = devices.gpu_count()
    if n < 2:
        print(f"{n} GPU here; choosing one needs two")
        return SKIP
    free = devices.measure_free(range(n))
    best = max(range(n), key=lambda i: (free[i], -i))
    hog = torch.empty(int(free[best] * 0.9), dtype=torch.uint8, device=f"cuda:{best}")  # noqa: F841
    chosen = pick_device("auto")
    if chosen.index == best:
        return fail(f"auto chose cuda:{best}, whose memory is 90 % taken")
    print(f"auto chose {chosen} while cuda:{best} was full")
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"device": device, "verify": verify, "toy-points": toy_points, "adam-state": adam_state,
              "set-device": set_device, "oom": oom, "auto-gpu": auto_gpu}[cmd](*args))
