"""The CUDA and MPS paths, checked on the CPU with a simulated device where the real one is missing:
``meta`` tensors, a tensor that refuses float64 as MPS does, monkeypatched ``torch.cuda`` functions.
``benchmarks/gpu_check.sh`` runs the real thing on a machine with a GPU."""

import dataclasses

import pytest
import torch

from playground import bench, devices, losses, quality, speed
from playground.config import TrainConfig
from playground.data import DataError, load_dataset
from playground.jobs import JobManager
from playground.models import ModelSpec
from playground.runs import Run
from playground.outputs import latest_train_checkpoint
from playground.training import Hooks, Trainer, pick_device
from tests.support import reliability as rel


def _cfg(**over) -> TrainConfig:
    base = dict(dataset="ring", arch="mlp", batch_size=16, max_images=64, epochs=1, z_dim=4,
                g_hidden=(16,), d_hidden=(16,), log_every=2, quality_samples=0, device="cpu",
                threads=1, seed=1, snapshot_schedule="1")
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **base, **over}).validate()


def _trainer(tmp_path, cfg, device="cpu", resume=False, name="run"):
    data = load_dataset(cfg.dataset, max_images=cfg.max_images, seed=cfg.seed, device=device)
    run = Run(tmp_path / name)
    if not run.path.exists():
        run.create(cfg)
    return Trainer(run, cfg, data, torch.device(device), Hooks(), resume=resume)


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)   # a Trainer sets the process's thread count


# ----------------------------------------------------------------------------- 1. CUDA graphs
def test_every_compiled_cuda_run_marks_its_steps():
    """max-autotune turns CUDA graphs on as reduce-overhead does, so both need the step mark."""
    inductor = pytest.importorskip("torch._inductor")
    assert inductor.list_mode_options("max-autotune").get("triton.cudagraphs")
    spec = ModelSpec(arch="dcgan", z_dim=8, channels=1, image_size=28)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    for mode in ("default", "reduce-overhead", "max-autotune"):
        cfg = TrainConfig(compile=True, compile_mode=mode)
        assert speed.resolve(cfg, spec, cuda).cudagraph_step_mark, mode
        assert not speed.resolve(cfg, spec, cpu).cudagraph_step_mark, mode
    assert not speed.resolve(TrainConfig(compile=False), spec, cuda).cudagraph_step_mark


def test_trainer_marks_every_step_when_the_plan_says_so(tmp_path, monkeypatch):
    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    real = speed.resolve
    monkeypatch.setattr(speed, "resolve", lambda *a: dataclasses.replace(real(*a), cudagraph_step_mark=True))
    t = _trainer(tmp_path, _cfg())
    t.fit()
    assert len(marks) == t.step == t.steps_per_epoch   # one mark per step, before its first call


# ----------------------------------------------------------------------------- 2. float64 on MPS
class NoFloat64(torch.Tensor):
    """A tensor on a simulated device without float64, as MPS: making a float64 tensor "there"
    raises as MPS does; ``.cpu()`` (or ``.to('cpu')``) leaves the device and gives a plain tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        leaves = func in (torch.Tensor.cpu, torch.Tensor.numpy) or (
            func is torch.Tensor.to and any(str(a) == "cpu" for a in (*args[1:], kwargs.get("device"))))
        if leaves:   # on the CPU already, .cpu() returns the tensor itself: give a plain one
            return out.as_subclass(torch.Tensor) if isinstance(out, torch.Tensor) else out
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if any(isinstance(o, torch.Tensor) and o.dtype == torch.float64 for o in outs):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework "
                            "doesn't support float64. Please use float32 instead.")
        if isinstance(out, torch.Tensor) and not isinstance(out, cls):
            return out.as_subclass(cls)
        return out


def test_toy_quality_never_makes_float64_on_the_device():
    pts = load_dataset("grid", max_images=400, seed=0).x.as_subclass(NoFloat64)
    with pytest.raises(TypeError, match="float64"):
        pts.double()                                         # the simulation refuses, as MPS does
    q = quality.quality_for(pts, "grid", "points")
    assert q["available"] and q["modes"] == 25 and q["n"] == 400 and q["modes_covered"] >= 20
    assert quality.toy_quality(pts, "grid") == quality.toy_quality(pts.as_subclass(torch.Tensor), "grid")


def test_the_image_quality_figure_never_makes_float64_on_the_device():
    images = (torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    q = quality.quality_for(images.as_subclass(NoFloat64), "mnist", "images", 28, 1)
    assert q["available"] and q["n"] == 64 and q["fd"] > 0


def test_a_toy_epoch_quality_runs_on_a_device_without_float64(tmp_path):
    """The Trainer's end-of-epoch figures for a 2D toy, with G's outputs on the simulated device."""
    t = _trainer(tmp_path, _cfg(dataset="grid", max_images=400, quality_samples=600, conditional=True))

    class OnDevice(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g, self.num_classes = g, g.num_classes

        def forward(self, z, y=None):
            return self.g(z, y).as_subclass(NoFloat64)

    q, div = quality.epoch_quality(OnDevice(t.G), t.outputs.fixed_z.as_subclass(NoFloat64), t.outputs.fixed_y,
                                   n=600, seed=2, info=t.info)
    assert q["available"] and q["n"] == 600 and div["diversity"] > 0 and "class_diversity" in div


# ----------------------------------------------------------------------------- 3. optimizer state
def test_resume_keeps_for_each_adams_step_counters_on_the_cpu(tmp_path):
    """Resumed onto a device (``meta`` here, a GPU in use), the moments go to the device and the
    step counters of for-each Adam stay on the CPU: a device counter is read back every step."""
    cfg = _cfg(fused_adam=False)
    _trainer(tmp_path, cfg).fit()
    t = _trainer(tmp_path, cfg.replace(epochs=2), device="meta", resume=True)
    assert t.step > 0
    for opt in t.step_impl.optimizers.values():
        states = list(opt.state.values())
        assert states and all(s["step"].device.type == "cpu" for s in states)
        assert all(s["exp_avg"].device.type == "meta" and s["exp_avg_sq"].device.type == "meta"
                   for s in states)


# ----------------------------------------------------------------------------- 4. toys in fp32
def test_toys_train_in_fp32_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    cuda = torch.device("cuda")
    toy = ModelSpec(arch="mlp", z_dim=2, channels=0, image_size=0)
    image = ModelSpec(arch="dcgan", z_dim=8, channels=1, image_size=28)
    for precision in ("auto", "bf16"):
        assert speed.resolve(TrainConfig(precision=precision), toy, cuda).autocast is None
        assert speed.resolve(TrainConfig(precision=precision), image, cuda).autocast == torch.bfloat16
    # why: in bf16 the 800 points of a grid mode at x = 4 (std 0.05) fall on a few values
    x = 4.0 + 0.05 * torch.randn(800, generator=torch.Generator().manual_seed(0))
    assert x.unique().numel() > 790 and x.bfloat16().unique().numel() < 20


# ----------------------------------------------------------------------------- 5. WGAN-GP + replay
def test_gradient_penalty_pairs_each_fake_with_its_own_label(tmp_path, monkeypatch):
    cfg = _cfg(objective="wgan-gp", conditional=True, replay=0.5, replay_size=32, d_steps=1,
               max_images=128, epochs=1, beta1=0.0, beta2=0.9)
    t = _trainer(tmp_path, cfg)
    mixed, penalised = [], []
    mix = t.step_impl._replay_mix

    def recording_mix(fake, y):
        out = mix(fake, y)
        mixed.append((y.clone(), out[1].clone()))
        return out

    gp = losses.gradient_penalty
    monkeypatch.setattr(t.step_impl, "_replay_mix", recording_mix)
    monkeypatch.setattr(losses, "gradient_penalty",
                        lambda D, r, f, y: penalised.append(y.clone()) or gp(D, r, f, y))
    t.fit()
    assert len(mixed) == len(penalised) == t.step
    assert all(torch.equal(p, fake_labels) for (_, fake_labels), p in zip(mixed, penalised))
    # replay did swap in older fakes with other labels, so the check could fail
    assert any(not torch.equal(real_labels, fake_labels) for real_labels, fake_labels in mixed)


# ----------------------------------------------------------------------------- 6. shared GPUs, MPS
def test_out_of_memory_while_loading_says_so(monkeypatch):
    to = torch.Tensor.to

    def full_gpu(self, *a, **k):
        dev = a[0] if a else k.get("device")
        if isinstance(dev, torch.device) and dev.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 7.50 MiB.")
        return to(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "to", full_gpu)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d=None: (3 * 2**20, 80 * 2**30))
    with pytest.raises(DataError) as e:
        load_dataset("mnist", source="bundled", max_images=1000, device="cuda:1")
    on_cpu = load_dataset("mnist", source="bundled", max_images=1000)
    need = (on_cpu.x.nbytes + on_cpu.y.nbytes) / 2**20
    msg = str(e.value)
    assert "out of memory" in msg and "not available" not in msg and "'cuda:1'" in msg
    assert f"need {need:,.1f} MiB (1,000 examples)" in msg and "3.0 MiB of its 81,920.0 MiB are free" in msg


def _gpus(monkeypatch, free_mib: list[int]):
    """A simulated machine with these GPUs (free memory in MiB), measured in this process."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(free_mib))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free_mib[i] * 2**20, 80 * 2**30))
    monkeypatch.setattr(devices, "_probe", devices.measure_free)   # no child process


def test_auto_picks_the_gpu_with_the_most_free_memory(monkeypatch):
    _gpus(monkeypatch, [1000, 5000, 3000])
    assert pick_device("auto") == torch.device("cuda", 1)
    _gpus(monkeypatch, [4000, 4000])
    assert pick_device("auto") == torch.device("cuda", 0)   # a tie: the lowest index
    monkeypatch.setattr(devices, "_probe", lambda idx: {})  # the measurement failed
    assert pick_device("auto") == torch.device("cuda", 0)


def test_the_free_memory_probe_runs_in_a_child_and_fails_softly_without_cuda():
    assert devices._probe([0, 1]) == {}   # this machine has no CUDA: the child fails, nothing breaks


def test_the_job_limit_counts_per_gpu(tmp_path, monkeypatch):
    _gpus(monkeypatch, [2000, 6000])
    root = tmp_path / "runs"
    try:
        m = JobManager(root, max_jobs=1, python=str(rel.fake_python(tmp_path)))
        a = m.submit(rel.tiny_config(device="auto"), "a")
        b = m.submit(rel.tiny_config(device="cuda"), "b")
        c = m.submit(rel.tiny_config(device="auto"), "c")
        assert a.read_status()["device"] == "cuda:1" and b.read_status()["device"] == "cuda:0"
        assert c.state() == "queued" and m.slots("auto") == (2, 2) and m.slots("cuda:1") == (1, 1)
        assert m.slots("cpu") == (0, 1) and m.slots(c) == (2, 2)
        cpu = m.submit(rel.tiny_config(device="cpu"), "cpu")          # the CPU has its own slot
        assert cpu.state() == "running" and cpu.read_status()["device"] == "cpu"
        m.kill(a)
        assert rel.wait_until(lambda: a.state() == "interrupted", 10)
        assert m.schedule() == [c] and c.read_status()["device"] == "cuda:1"
        assert not m.resume(a)                                        # both GPUs busy again
    finally:
        rel.stop_all(root)


def test_the_worker_trains_where_the_manager_placed_it(tmp_path, monkeypatch):
    from playground import worker

    run = Run(tmp_path / "r")
    run.create(rel.tiny_config(device="cpu"))
    monkeypatch.setenv(devices.DEVICE_ENV, "cuda:1")
    assert worker.train_run(run, echo=False) == worker.EXIT_FAILED
    st = run.read_status()
    assert st["device"] == "cuda:1" and "cuda:1" in st["error"] and "no CUDA GPU" in st["error"]


def test_mps_random_state_is_saved_and_restored(tmp_path, monkeypatch):
    state = torch.arange(16, dtype=torch.uint8)
    restored = []
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: state.clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda s: restored.append(s))
    mps = torch.device("mps")
    assert torch.equal(devices.rng_state(mps)["rng.mps"], state)
    t = _trainer(tmp_path, _cfg())
    t.outputs.device = mps               # only the checkpoint's random states read the device here
    t.outputs.save_train_checkpoint(t.epoch, t.step, t.live.as_dict())
    tensors, _ = latest_train_checkpoint(t.run)
    assert torch.equal(tensors["rng.mps"], state)
    devices.restore_rng_state(mps, tensors)
    assert len(restored) == 1 and torch.equal(restored[0], state)
    devices.restore_rng_state(torch.device("cpu"), tensors)
    assert len(restored) == 1


# ----------------------------------------------------------------------------- 7. the benchmark
def test_bench_shares_use_the_peak_of_each_loops_precision():
    r = {"flops_per_image": 1e9, "project_flops_per_image": 1e9, "textbook_median": 100.0,
         "project_median": 400.0, "ratio_median_of_pairs": 4.0, "project_heavy_ops_alone_images_per_s": 1e3,
         "config": {"batch_size": 128}, "project_speed": {"autocast": "bfloat16"}}
    row = bench.table({"m": r}, {"fp32": 1e12, "bf16": 4e12}).splitlines()[-1].split("|")
    assert [c.strip() for c in row[8:10]] == ["10.0", "10.0"]   # 1e11/1e12 and 4e11/4e12
    fp32 = {**r, "project_speed": {"autocast": "fp32"}}
    row = bench.table({"m": fp32}, {"fp32": 1e12, "bf16": 4e12}).splitlines()[-1].split("|")
    assert row[9].strip() == "40.0"


def test_bench_syncs_mps(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    bench.sync(torch.device("mps"))
    bench.sync(torch.device("cpu"))
    assert calls == ["mps"]


def test_bench_starts_the_textbook_workers_before_it_touches_the_device(tmp_path, monkeypatch):
    order = []

    class Stop(Exception):
        pass

    monkeypatch.setattr(bench, "Textbook", lambda *a: order.append("textbook workers"))
    monkeypatch.setattr(bench, "device_name", lambda d: order.append("device name") or "x")

    def peak(device, dtype=None, repeats=5):
        order.append("peak")
        raise Stop

    monkeypatch.setattr(bench, "matmul_peak", peak)
    with pytest.raises(Stop):
        bench.main(["--models", "mlp-28", "--device", "cpu", "--out", str(tmp_path / "r.json")])
    assert order == ["textbook workers", "device name", "peak"]
