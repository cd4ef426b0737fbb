"""Crash safety: a worker killed with SIGKILL leaves a folder that parses, reads as interrupted and
resumes to the very result of an uninterrupted run (the full 20-kill campaign is
scripts/reliability_report.py; here a few kills, one per kind of moment)."""

import json
import os
import random
import subprocess
import sys

import pytest

from playground import runs
from playground.runs import Run
from playground.worker import train_run
from tests.support import reliability as rel
from tests.support import slow_writes


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    return root, rel.reference_run(root)


@pytest.fixture(scope="module")
def kills(campaign):
    """One kill per kind of moment; each resumed to the end in this process."""
    root, reference = campaign
    return {moment: rel.crash_trial(root, f"kill-{moment}", moment, random.Random(seed), reference=reference,
                                    resume_inline=True)
            for moment, seed in [("steps", 3), ("grid", 4), ("checkpoint", 5), ("metrics", 6)]}


@pytest.mark.parametrize("moment", ["steps", "grid", "checkpoint", "metrics"])
def test_sigkill_leaves_a_readable_interrupted_run_that_resumes_to_the_end(kills, moment):
    result = kills[moment]
    assert result["killed"], f"the worker ended before the chosen moment: {result['where']}"
    assert result["problems"] == [], result
    assert result["survived"] and result["lost_epochs"] <= 1


def test_resumed_runs_reproduce_the_uninterrupted_run(kills):
    """Resume restores weights, both Adam states and the RNG: the losses and the last grid equal
    those of a run never killed (anything that draws from torch's global RNG outside the saved
    state, or restores state imperfectly, shows up here)."""
    assert {m: r["differs_from_reference"] for m, r in kills.items() if r["differs_from_reference"]} == {}


def test_delay_spec_names_kinds_of_write(tmp_path):
    assert slow_writes.delay_for("", tmp_path / "checkpoints" / "train_step_000000001.safetensors") == 0.0
    spec = "grid:0.25, checkpoint:1"
    assert slow_writes.delay_for(spec, tmp_path / "samples" / "epoch_001.png") == 0.25
    assert slow_writes.delay_for(spec, tmp_path / "checkpoints" / "train_step_000000001.json") == 1.0
    assert slow_writes.delay_for(spec, tmp_path / "checkpoints" / "snapshot_epoch_0001.json") == 0.0
    assert slow_writes.delay_for(spec, tmp_path / "status.json") == 0.0


def test_hooked_writes_see_each_file_by_its_final_name_and_write_the_same_bytes(tmp_path, tiny_cfg):
    """The hook of the campaigns names every run-folder write by the file it replaces, and a run
    written through it (slowed or not) is byte for byte what the plain writers produce."""
    seen = []

    def hook(f, path, data):
        seen.append((path.relative_to(tmp_path.resolve()).as_posix(), slow_writes.write_kind(path)))
        return slow_writes.write_slowly(f, data, 0.01)

    run = Run(tmp_path / "r")
    with slow_writes.hooked_writes(hook):
        run.create(tiny_cfg(epochs=1))
        run.write_status(state="running", epoch=0, step=0)
        run.append_metrics([{"type": "event", "text": "a"}])
        runs.atomic_write_bytes(run.samples_dir / "epoch_000.png", b"0123456789", root=run.path)
    assert runs.os is os  # put back on the way out
    assert ("r/config.json", "config") in seen and ("r/status.json", "status") in seen
    assert ("r/metrics.jsonl", "metrics") in seen and ("r/samples/epoch_000.png", "grid") in seen
    assert (run.samples_dir / "epoch_000.png").read_bytes() == b"0123456789"
    assert run.read_metrics(0)[0] == [{"type": "event", "text": "a"}]
    assert not list(run.path.glob(".*.tmp")) and not list(run.samples_dir.glob(".*.tmp"))


def test_the_product_has_no_write_delay_hook():
    """Slowed writes exist only in test code (tests/support/slow_writes.py)."""
    assert not any("DELAY" in name or "slowly" in name or "injected" in name for name in vars(runs))


def test_killed_write_leaves_old_file_and_leftovers_are_removed_on_resume(tmp_path, tiny_cfg):
    """A SIGKILL inside an atomic write leaves the previous file whole and a temporary file, which
    the next worker deletes (with tensor files whose JSON was never written)."""
    run = Run(tmp_path / "r")
    run.create(tiny_cfg(epochs=1))
    assert train_run(run, echo=False) == 0
    before = run.status_path.read_bytes()
    code = ("import sys; from playground.runs import Run; from tests.support.slow_writes import slow_writes\n"
            "with slow_writes('status:30'): Run(sys.argv[1]).write_status(state='running', epoch=9)")
    env = {**rel.worker_env(), "PYTHONPATH": str(rel.PROJECT_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(run.path)], env=env, start_new_session=True)
    assert rel.wait_until(lambda: list(run.path.glob(".status.json.*.tmp")), 30, proc=proc)
    rel.kill_group(proc.pid)
    proc.wait()
    assert run.status_path.read_bytes() == before  # readers still see the old, whole status
    orphan = run.checkpoints_dir / "train_step_000000099.safetensors"
    orphan.write_bytes(b"half")
    (run.path / ".control.json.abc.tmp").write_text("{}")  # the dashboard's own: left alone
    assert rel.check_run_folder(run)["leftovers"] == 2
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    assert rel.check_run_folder(run) == {"problems": [], "torn_last_line": False, "leftovers": 0,
                                         "skipped_checkpoints": []}
    assert (run.path / ".control.json.abc.tmp").exists()


def test_torn_metrics_line_is_skipped_by_readers_and_dropped_on_resume(tmp_path, tiny_cfg):
    run = Run(tmp_path / "r")
    run.create(tiny_cfg(epochs=1))
    assert train_run(run, echo=False) == 0
    complete, offset = run.read_metrics(0)
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"type": "step", "epoch": 2, "st')
    assert run.read_metrics(0) == (complete, offset)  # the torn line is not parsed half
    assert run.read_metrics(offset) == ([], offset)
    assert rel.check_run_folder(run)["torn_last_line"]
    assert train_run(run, resume=True, epochs=2, echo=False) == 0
    text = run.metrics_path.read_text()
    assert text.endswith("\n") and all(json.loads(line) for line in text.splitlines())
    assert rel.epoch_lines(run) == [1, 2]


def test_a_second_worker_is_refused_and_touches_nothing(tmp_path, tiny_cfg):
    """Two workers never train one run: the second cannot take the run's lock and leaves the
    status the first one writes alone (before, it overwrote it with 'failed')."""
    import fcntl

    run = Run(tmp_path / "r")
    run.create(tiny_cfg())
    run.write_status(state="running", pid=os.getpid(), heartbeat=1e12, epoch=0, step=3)
    status = run.status_path.read_bytes()
    with open(run.path / ".worker.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert train_run(run, resume=True, echo=False) == 1
        assert train_run(run, echo=False) == 1
    assert run.status_path.read_bytes() == status
    assert "being trained by another worker" in run.log_path.read_text()
    assert not list(run.checkpoints_dir.iterdir())


def test_finished_run_started_again_keeps_its_status(tmp_path, tiny_cfg):
    run = Run(tmp_path / "r")
    run.create(tiny_cfg())
    assert train_run(run, echo=False) == 0
    assert train_run(run, echo=False) == 1  # not --resume: refused
    assert run.read_status()["state"] == "finished"
    assert "use --resume" in run.log_path.read_text()


def test_damaged_status_reads_as_failed_not_queued(tmp_path, tiny_cfg):
    """A status.json that cannot be parsed must never read as 'queued': the job manager would start
    the run again from scratch over its own checkpoints."""
    run = Run(tmp_path / "r")
    run.create(tiny_cfg())
    run.status_path.write_text('{"state": "runn')
    st = run.read_status()
    assert st["state"] == "failed" and "status.json" in st["error"]
    run.status_path.write_text("[1, 2]")
    assert run.read_status()["state"] == "failed"
    run.status_path.unlink()
    assert run.read_status()["state"] == "queued"


def test_restored_adam_moments_take_their_parameters_memory_layout(tmp_path):
    """Checkpoints store tensors contiguous; channels_last weights must get channels_last moments
    back, or fused Adam pairs weights with the wrong moments and a resumed run silently diverges."""
    import torch

    from playground import checkpoint

    def model():
        torch.manual_seed(0)
        return torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)

    def step(net, opt, seed):
        torch.manual_seed(seed)
        opt.zero_grad()
        net(torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)).square().mean().backward()
        opt.step()

    a = model()
    opt_a = torch.optim.Adam(a.parameters(), lr=0.1, fused=True)
    step(a, opt_a, 1)
    tensors, info = checkpoint.optimizer_tensors("opt", opt_a)
    checkpoint.save(tmp_path / "ck", {**checkpoint.prefixed("net", a.state_dict()), **tensors},
                    {"kind": "train", "opt": info})
    loaded, meta = checkpoint.load(tmp_path / "ck")
    b = model()
    opt_b = torch.optim.Adam(b.parameters(), lr=0.1, fused=True)
    checkpoint.load_module_state(b, checkpoint.unprefixed("net", loaded), "net")
    checkpoint.restore_optimizer(opt_b, "opt", loaded, meta["opt"])
    assert opt_b.state[b.weight]["exp_avg"].stride() == b.weight.stride()
    step(a, opt_a, 2)
    step(b, opt_b, 2)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
