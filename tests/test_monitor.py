"""Failure-mode warnings: each detector triggered on purpose (tiny real runs where they are fast
enough, synthetic record streams where a real run would take minutes), debounced, and silent on a
healthy run."""

import math
from pathlib import Path

import pytest

from playground import losses, monitor
from playground.monitor import Monitor
from playground.runs import Run
from playground.worker import train_run


def _train(tmp_path, cfg, name="run"):
    run = Run(tmp_path / name)
    run.create(cfg)
    code = train_run(run, echo=False)
    records, _ = run.read_metrics()
    return run, code, records


def _events(records, kind=None):
    return [r for r in records if r["type"] == "event" and (kind is None or r["kind"] == kind)]


def _step(i, d_fake=0.5, d_real=0.5, loss_d=1.3, loss_g=0.7, epoch=1):
    return {"type": "step", "epoch": epoch, "step": i, "d_fake": d_fake, "d_real": d_real,
            "loss_d": loss_d, "loss_g": loss_g}


def _feed(m, records):
    out = []
    for r in records:
        out += m.observe(r)
    return out


# ----------------------------------------------------------------------------- real tiny runs
def test_discriminator_winning_is_reported(tmp_path, tiny_cfg):
    # D learns 100x faster than G: D(G(z)) sinks towards 0 while G's loss climbs
    run, code, records = _train(tmp_path, tiny_cfg(dataset="ring", epochs=4, max_images=320, lr_g=1e-4,
                                                    lr_d=1e-2, log_every=2, quality_samples=200))
    assert code == 0
    ev = _events(records, "d_wins")
    assert len(ev) == 1, ev                      # debounced: once, the condition never cleared
    e = ev[0]
    assert set(e) == {"type", "epoch", "step", "time", "kind", "message", "advice", "message_id", "advice_id"}
    assert "discriminator" in e["message"] and "learning rate" in e["advice"]
    before = [r for r in records if r["type"] == "step" and r["step"] <= e["step"]][-monitor.D_WINS_WINDOWS:]
    assert all(r["d_fake"] < monitor.D_WINS_P for r in before)
    assert before[-1]["loss_g"] > before[0]["loss_g"]


def test_healthy_tiny_runs_raise_nothing(tmp_path, tiny_cfg):
    for name, cfg in (("img", tiny_cfg(epochs=3, quality_samples=0)),
                      ("cond", tiny_cfg(epochs=3, arch="mlp", conditional=True, quality_samples=0)),
                      ("toy", tiny_cfg(dataset="ring", epochs=3, quality_samples=200))):
        run, code, records = _train(tmp_path, cfg, name)
        assert code == 0
        assert _events(records) == [], _events(records)
        assert [r["epoch"] for r in records if "diversity" in r] == [0, 1, 2, 3]


def test_non_finite_loss_leaves_an_event_before_failing(tmp_path, tiny_cfg, monkeypatch):
    real = losses.d_loss
    monkeypatch.setattr(losses, "d_loss", lambda *a, **k: real(*a, **k) * float("nan"))
    run, code, records = _train(tmp_path, tiny_cfg(quality_samples=0))
    assert code == 1 and run.read_status()["state"] == "failed"
    ev = _events(records)
    assert [e["kind"] for e in ev] == ["non_finite"]
    assert "NaN" in ev[0]["message"] and "WGAN-GP" in ev[0]["advice"]


# ----------------------------------------------------------------------------- synthetic streams
def test_d_wins_needs_a_sustained_stretch_and_clears():
    m = Monitor(has_probs=True, lr_d=4e-4)
    # three low windows then recovery: too short
    assert _feed(m, [_step(i, d_fake=0.01, loss_g=3 + i) for i in range(3)] + [_step(3, d_fake=0.4)]) == []
    ev = _feed(m, [_step(10 + i, d_fake=0.01, loss_g=3 + 0.2 * i) for i in range(8)])
    assert [e["kind"] for e in ev] == ["d_wins"] and "0.0001" in ev[0]["advice"]
    assert _feed(m, [_step(30, d_fake=0.3)]) == []                 # cleared
    ev = _feed(m, [_step(40 + i, d_fake=0.02, loss_g=4 + 0.1 * i) for i in range(5)])
    assert [e["kind"] for e in ev] == ["d_wins"]                    # a new stretch reports again
    # no probabilities (WGAN-GP critic scores): no such warning
    m2 = Monitor(has_probs=False)
    assert _feed(m2, [_step(i, d_fake=None, d_real=None, loss_g=3 + i) for i in range(10)]) == []


def test_oscillation_is_reported_once_and_not_for_noise():
    m = Monitor(has_probs=True)
    swing = [_step(i, d_real=0.9 if i % 2 else 0.2, d_fake=0.8 if i % 2 else 0.1,
                   loss_g=3.0 if i % 2 else 0.3) for i in range(30)]
    ev = _feed(m, swing)
    assert [e["kind"] for e in ev] == ["oscillation"]
    assert "D(x)" in ev[0]["message"] and "learning rates" in ev[0]["advice"]
    # a short calm spell does not re-arm the warning; a whole calm stretch does
    calm = [_step(100 + i, d_real=0.6, d_fake=0.4, loss_g=0.9, loss_d=1.2) for i in range(monitor.OSC_WINDOWS + 3)]
    assert _feed(m, calm[:6] + swing) == []
    assert [e["kind"] for e in _feed(m, calm * 2 + swing)] == ["oscillation"]
    # small jitter around a level is not oscillation
    m = Monitor(has_probs=True)
    jitter = [_step(i, d_real=0.6 + 0.02 * (-1) ** i, d_fake=0.4 + 0.02 * (-1) ** i,
                    loss_g=0.9 + 0.05 * (-1) ** i, loss_d=1.2 + 0.05 * (-1) ** i) for i in range(30)]
    assert _feed(m, jitter) == []
    # a steady trend with a large range is not oscillation either
    m = Monitor(has_probs=False)
    trend = [_step(i, d_real=None, d_fake=None, loss_d=-0.5 * i, loss_g=0.5 * i) for i in range(30)]
    assert _feed(m, trend) == []


def _epoch(e, **q):
    div = q.pop("diversity", 0.5)
    q.setdefault("confident", 0.6)
    return {"type": "epoch", "epoch": e, "step": 10 * e, "quality": {"available": True, **q},
            "diversity": div}


def test_mode_collapse_from_classes_modes_and_diversity():
    m = Monitor()
    assert _feed(m, [_epoch(1, classes=7), _epoch(2, classes=10), _epoch(3, classes=8)]) == []
    ev = _feed(m, [_epoch(4, classes=6), _epoch(5, classes=5)])
    assert [e["kind"] for e in ev] == ["mode_collapse"] and "6 classes, down from 10" in ev[0]["message"]
    assert _feed(m, [_epoch(6, classes=9)]) == []                   # cleared, nothing new
    # toys: covered modes halve
    m = Monitor()
    assert _feed(m, [_epoch(1, modes_covered=3, modes=8), _epoch(2, modes_covered=8, modes=8),
                     _epoch(3, modes_covered=6, modes=8)]) == []
    ev = _feed(m, [_epoch(4, modes_covered=4, modes=8)])
    assert [e["kind"] for e in ev] == ["mode_collapse"] and "4 of the 8 modes" in ev[0]["message"]
    # no classifier: the fixed batch's diversity collapses; epoch 0 (untrained G) is not a baseline
    m = Monitor()
    recs = [{"type": "quality", "epoch": 0, "quality": {"available": False, "reason": "x"}, "diversity": 5.0}]
    recs += [{"type": "epoch", "epoch": e, "quality": {"available": False, "reason": "x"}, "diversity": d}
             for e, d in ((1, 0.30), (2, 0.32), (3, 0.2))]
    assert _feed(m, recs) == []
    ev = _feed(m, [{"type": "epoch", "epoch": 4, "step": 40, "diversity": 0.1}])
    assert [e["kind"] for e in ev] == ["mode_collapse"] and "more alike" in ev[0]["message"]
    # hysteresis: hovering just above the threshold does not clear it, so no second warning ...
    assert _feed(m, [{"type": "epoch", "epoch": 5, "diversity": 0.2}, {"type": "epoch", "epoch": 6, "diversity": 0.1}]) == []
    # ... a real recovery does, and a new fall is reported again
    ev = _feed(m, [{"type": "epoch", "epoch": 7, "diversity": 0.3}, {"type": "epoch", "epoch": 8, "diversity": 0.1}])
    assert [e["kind"] for e in ev] == ["mode_collapse"]
    # conditional: every class the same image whatever the noise
    m = Monitor()
    ok = {"type": "epoch", "epoch": 1, "diversity": 0.5, "class_diversity": 0.4}
    bad = {"type": "epoch", "epoch": 2, "step": 20, "diversity": 0.5, "class_diversity": 0.06}
    assert _feed(m, [ok]) == []
    ev = _feed(m, [bad])
    assert [e["kind"] for e in ev] == ["mode_collapse"] and "whatever the noise" in ev[0]["message"]
    # a handful of confident predictions says nothing about the classes
    m = Monitor()
    assert _feed(m, [_epoch(1, classes=4, confident=0.03), _epoch(2, classes=0, confident=0.01)]) == []
    # with a quality figure, the class count speaks and the diversity alone raises nothing
    m = Monitor()
    assert _feed(m, [_epoch(1, classes=10, diversity=0.4), _epoch(2, classes=10, diversity=0.05)]) == []


def test_replay_rebuilds_state_without_emitting(tmp_path):
    run = Run(tmp_path / "r")
    history = [_epoch(1, classes=10), {"type": "event", "kind": "d_wins", "epoch": 1, "step": 9}]
    history += [_step(i, d_fake=0.01, loss_g=3 + i) for i in range(6)]
    run.path.mkdir()
    run.append_metrics(history)
    m = monitor.RunMonitor(run)
    assert m.best_classes == 10 and "d_wins" in m.active   # the old warning is not repeated
    ev = m.after_epoch([_epoch(2, classes=4)])
    assert [e["kind"] for e in ev] == ["mode_collapse"]
    assert all(math.isfinite(e["time"]) for e in ev)


@pytest.mark.parametrize("kind", monitor.EVENT_KINDS)
def test_every_kind_has_plain_text(kind):
    e = Monitor()._event(kind, 1, 2, p=0.05, n=4, what="something")
    assert e["message"] and e["advice"] and "{" not in e["message"] + e["advice"]


# ----------------------------------------------------------------------------- calibration on real runs
PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"


def _replayed_events(records, objective="bce", lr_d=2e-4):
    """The warnings today's detectors raise on a run's records (its stored events left out)."""
    m = Monitor(has_probs=objective in ("bce", "minimax", "lsgan"), lr_d=lr_d)
    return [e for r in records if r.get("type") != "event" for e in m.observe(r)]


def _run_records(name):
    run = Run(PRETRAINED / name)
    records, _ = run.read_metrics()
    return run.read_config(), records


@pytest.mark.parametrize("name", ["dcgan-fashion-report1", "gan-fashion-report1", "cgan-mnist", "ring-healthy"])
def test_flagship_and_healthy_pretrained_runs_raise_no_warning(name):
    cfg, records = _run_records(name)
    assert sum(r["type"] == "step" for r in records) > 100          # a real history was replayed
    assert _replayed_events(records, cfg.objective, cfg.lr_d) == []
    assert _events(records) == []                                     # and none is stored either


def test_ring_collapse_demo_raises_mode_collapse():
    cfg, records = _run_records("ring-collapse")
    ev = _replayed_events(records, cfg.objective, cfg.lr_d)
    assert "mode_collapse" in [e["kind"] for e in ev]
    assert [(e["kind"], e["epoch"]) for e in _events(records)] == [(e["kind"], e["epoch"]) for e in ev]


def test_single_spikes_are_not_oscillation():
    # the course report's DCGAN on 60,000 images: a steady D loss with two one-window spikes
    d_loss = [0.26, 0.25, 0.24, 0.89, 0.34, 0.27, 0.26, 0.26, 0.3, 0.77, 0.34, 0.34] * 3
    m = Monitor(has_probs=True)
    assert _feed(m, [_step(i, d_real=0.87, d_fake=0.12, loss_d=v, loss_g=2.4) for i, v in enumerate(d_loss)]) == []


def test_oscillating_demo_run_is_reported(tmp_path, tiny_cfg):
    # minimax at a learning rate of 0.03 with Adam's beta1 0.9, every step logged: G's loss swings
    run, code, records = _train(tmp_path, tiny_cfg(dataset="ring", epochs=3, max_images=512, lr_g=3e-2,
                                                    lr_d=3e-2, beta1=0.9, objective="minimax", log_every=1))
    assert code == 0
    ev = _events(records, "oscillation")
    assert len(ev) == 1 and "G's loss" in ev[0]["message"], _events(records)
    window = [r["loss_g"] for r in records if r["type"] == "step" and r["step"] <= ev[0]["step"]][-monitor.OSC_WINDOWS:]
    typical = sorted(abs(v) for v in window)[len(window) // 2] + 0.1
    assert monitor._reversals(window, monitor.OSC_MOVE_LOSS * typical) >= monitor.OSC_REVERSALS
