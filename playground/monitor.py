"""Failure-mode warnings: plain-language events a learner can act on, written to metrics.jsonl.

The :class:`Monitor` reads the records the trainer already writes (step windows, epoch lines with
their quality figure) and returns event records::

    {"type": "event", "epoch", "step", "time", "kind", "message", "advice", "message_id", "advice_id"}

``message`` and ``advice`` are English text (logs, the CLI, runs of older versions);
``message_id`` and ``advice_id`` hold the same as a message id plus its values
(:class:`playground.i18n.Message`), so the dashboard shows them in the reader's language.

Kinds (``EVENT_KINDS``):

- ``d_wins``: the discriminator wins outright. D(G(z)) (``d_fake``) stays below ``D_WINS_P`` for
  ``D_WINS_WINDOWS`` logging windows in a row while the generator's loss rises: G gets almost no
  gradient and stops learning. Only for objectives whose D output is a probability (bce, minimax,
  lsgan); a critic score (hinge, WGAN-GP) has no such limit.
- ``mode_collapse``: the generator covers fewer kinds of output than it did. With a quality
  classifier: the number of classes drops by ``COLLAPSE_CLASS_DROP`` or more below its best (both
  counted at epochs where at least ``COLLAPSE_MIN_CONFIDENT`` of the samples are recognised); on the
  ring and grid toys: the covered modes drop to half of their best or below, or the generated
  points' spread (fixed batch diversity) falls under ``COLLAPSE_TOY_SPREAD`` of its best; for runs without a
  quality figure: the diversity of the fixed sample batch (mean pairwise distance) falls under
  ``COLLAPSE_DIVERSITY`` of its best since epoch 1 (cleared above ``COLLAPSE_DIVERSITY_CLEAR``);
  for conditional runs: the fixed batch's diversity within a class falls under
  ``COLLAPSE_CLASS_RATIO`` of its diversity across classes (the noise no longer matters).
- ``oscillation``: over the last ``OSC_WINDOWS`` logging windows the losses (or D's outputs) swing
  up and down with a large amplitude instead of settling: at least ``OSC_REVERSALS`` changes of
  direction between *large* moves (each at least ``OSC_MOVE_PROB`` for probabilities, or
  ``OSC_MOVE_LOSS`` times the typical size for losses; for hinge and WGAN-GP only D's loss, as G's
  has no fixed offset), and a middle half of the values (interquartile range) at least
  ``OSC_SPREAD_PROB`` / ``OSC_SPREAD_LOSS`` times the typical size wide. Both conditions tell a
  swing from what healthy runs do: their windows jitter in small steps and now and then jump once
  (a single hard batch), which moves the extremes but not the middle half. Counting every small
  change of direction against the whole range gave false warnings on the course report's GAN and
  DCGAN.
- ``non_finite``: a loss became NaN or infinite; the trainer stops the run right after this event.

Debouncing: each kind is reported once when its condition starts and again only after the
condition has cleared. The monitor keeps no state that a resumed run could not rebuild:
:meth:`Monitor.replay` feeds it the records already in the folder without emitting anything.
"""

from __future__ import annotations

import math
import time
from collections import deque

from .i18n import N_, joined, msg

EVENT_KINDS = ("d_wins", "mode_collapse", "oscillation", "non_finite")

D_WINS_P = 0.05          # D(G(z)) below this: D rejects almost every fake
D_WINS_CLEAR_P = 0.15    # hysteresis: the warning clears once D(G(z)) is back above this
D_WINS_WINDOWS = 4       # consecutive logging windows
COLLAPSE_CLASS_DROP = 3  # classes lost from the best epoch ...
COLLAPSE_MIN_CONFIDENT = 0.2  # ... counted only at epochs where this share of samples is recognised
COLLAPSE_DIVERSITY = 0.5  # share of the best fixed-batch diversity
COLLAPSE_DIVERSITY_CLEAR = 0.75  # ... and the share that clears the warning again
COLLAPSE_TOY_SPREAD = 0.25  # 2D toys: the points' spread under this share of its best since epoch 1
COLLAPSE_CLASS_RATIO = 0.3  # conditional runs: within-class diversity under this share of the overall
OSC_WINDOWS = 12         # logging windows looked at for oscillation
OSC_REVERSALS = 4        # direction changes between large moves among them (5 alternating swings)
OSC_MOVE_PROB = 0.2      # a large move of D(x) or D(G(z)): a fifth of [0, 1] ...
OSC_MOVE_LOSS = 1.0      # ... or of a loss: its typical size
OSC_SPREAD_PROB = 0.15   # the middle half of D(x) or D(G(z)) at least this wide ...
OSC_SPREAD_LOSS = 0.5    # ... or of a loss at least half its typical size
# Calibrated on the course report's GAN and DCGAN (8,192 and 60,000 images): in any 12 windows they
# reach at most 3 such reversals, and only with a middle half under 0.3x the typical size (single
# spikes); the oscillating demo in tests/test_monitor.py reaches 4 with a middle half 1.8x wide.

# Message ids (the catalogs translate them); values are plain numbers, formatted by the reader.
_TEXT = {
    "d_wins": (
        N_("The discriminator is winning outright: it rejects almost every generated sample "
           "(D(G(z)) below {p} for {n} logging windows) while the generator's loss climbs. The "
           "generator now gets almost no useful gradient and stops improving."),
        N_("Lower D's learning rate (for example to {lr_d}, a quarter of now) or raise G's; add "
           "one-sided label smoothing (0.1) or instance noise (0.1); or switch to the WGAN-GP "
           "objective, whose critic keeps giving gradients.")),
    "mode_collapse": (
        N_("Mode collapse: {what}. The generator is settling on a few kinds of output that fool the "
           "discriminator instead of covering the whole data set."),
        N_("Try the WGAN-GP objective, minibatch standard deviation in D (minibatch_std), a lower "
           "learning rate for G, or experience replay (replay 0.5); for a conditional run check the "
           "samples of each class.")),
    "oscillation": (
        N_("The training is oscillating: over the last {n} logging windows {what} went up and down "
           "with a large amplitude instead of settling."),
        N_("Lower both learning rates (for example halve them), lower Adam's beta1 to 0.5 if it is "
           "higher, or add instance noise; WGAN-GP and label smoothing also calm the game down.")),
    "non_finite": (
        N_("The losses became NaN or infinite: the training diverged and the run stops here."),
        N_("Resume is not useful as is: start again with lower learning rates (for example half), a "
           "smaller batch, label smoothing, or the WGAN-GP objective.")),
}


def _and(names: list):
    """"A", "A and B", "A, B and C" as a stored message (each name translated on its own)."""
    if len(names) == 1:
        return names[0]
    return msg("{first} and {last}", first=joined(names[:-1], ", "), last=names[-1])


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _reversals(values: list[float], min_move: float = 0.0) -> int:
    """How often consecutive moves of at least ``min_move`` change direction (smaller and flat
    moves are skipped, so jitter between two large swings does not count as a swing)."""
    diffs = [b - a for a, b in zip(values, values[1:]) if b != a and abs(b - a) >= min_move]
    return sum(1 for a, b in zip(diffs, diffs[1:]) if (a > 0) != (b > 0))


def _spread(values: list[float]) -> float:
    """The width of the middle half of ``values`` (interquartile range, nearest ranks)."""
    s = sorted(values)
    return s[round(0.75 * (len(s) - 1))] - s[round(0.25 * (len(s) - 1))]


class Monitor:
    """Watches one run's records; ``observe(record)`` returns the new event records (often none).

    ``has_probs``: whether D's outputs are probabilities (bce, minimax, lsgan). ``lr_d``: D's
    learning rate, quoted in the advice."""

    def __init__(self, has_probs: bool = True, lr_d: float = 2e-4):
        self.has_probs, self.lr_d = has_probs, lr_d
        self.active: set[str] = set()
        self.windows: deque = deque(maxlen=OSC_WINDOWS)
        self.low_run: list[float] = []   # loss_g of the current stretch of D(G(z)) < D_WINS_P
        self.calm = 0                    # logging windows in a row without oscillation
        self.best_classes = 0
        self.best_modes = 0
        self.best_diversity = 0.0
        self.best_toy_diversity = 0.0

    # ------------------------------------------------------------------ feeding
    def replay(self, records: list[dict]) -> None:
        """Rebuild the state from records already written (a resumed run), emitting nothing."""
        for r in records:
            if r.get("type") == "event":
                self.active.add(r.get("kind"))
            else:
                self.observe(r)

    def observe(self, rec: dict) -> list[dict]:
        kind = rec.get("type")
        if kind == "step":
            return self._step(rec)
        if kind == "epoch":
            return self._epoch(rec)
        if kind == "change":   # a learner changed a setting: give the warnings a fresh start
            self.low_run.clear()
            self.windows.clear()
            if rec.get("field") == "lr_d" and _num(rec.get("new")):
                self.lr_d = float(rec["new"])
        return []

    def non_finite(self, epoch: int, step: int) -> dict:
        """The event to write just before the trainer fails a diverged run (always emitted)."""
        self.active.add("non_finite")
        return self._event("non_finite", epoch, step)

    # ------------------------------------------------------------------ detectors
    def _step(self, rec: dict) -> list[dict]:
        out = []
        d_fake, loss_g = _num(rec.get("d_fake")), _num(rec.get("loss_g"))
        self.windows.append(rec)
        # D wins: a sustained stretch of D(G(z)) near 0 while G's loss goes up
        if self.has_probs and d_fake is not None:
            if d_fake < D_WINS_P:
                if loss_g is not None:
                    self.low_run.append(loss_g)
            elif d_fake > D_WINS_CLEAR_P:
                self.low_run.clear()
                self.active.discard("d_wins")
            run = self.low_run
            climbing = len(run) >= D_WINS_WINDOWS and (run[-1] > run[0] or min(run) > -math.log(D_WINS_P))
            if climbing:
                out += self._raise("d_wins", rec, p=D_WINS_P, n=len(run), lr_d=self.lr_d / 4)
        # oscillation: many direction changes with a large range over the recent windows
        what = self._oscillating()
        if what:
            self.calm = 0
            out += self._raise("oscillation", rec, what=what, n=len(self.windows))
        elif len(self.windows) == OSC_WINDOWS:
            self.calm += 1
            if self.calm >= OSC_WINDOWS:   # calm for a whole stretch: a new swing is news again
                self.active.discard("oscillation")
        return out

    def _oscillating(self) -> str:
        if len(self.windows) < OSC_WINDOWS:
            return ""
        swinging: list = []
        series = (("d_real", "D(x)"), ("d_fake", "D(G(z))")) if self.has_probs else ()
        for key, name in series:
            vals = [_num(w.get(key)) for w in self.windows]
            if None in vals:
                continue
            if _reversals(vals, OSC_MOVE_PROB) >= OSC_REVERSALS and _spread(vals) >= OSC_SPREAD_PROB:
                swinging.append(name)
        # A critic's score has no fixed offset, so G's loss under hinge or WGAN-GP may drift and
        # cross zero without anything being wrong: only D's loss is watched there.
        watched = (("loss_d", msg("D's loss")), ("loss_g", msg("G's loss")))
        for key, name in watched if self.has_probs else watched[:1]:
            vals = [_num(w.get(key)) for w in self.windows]
            if None in vals:
                continue
            typical = sorted(abs(v) for v in vals)[len(vals) // 2] + 0.1
            if (_reversals(vals, OSC_MOVE_LOSS * typical) >= OSC_REVERSALS
                    and _spread(vals) >= OSC_SPREAD_LOSS * typical):
                swinging.append(name)
        return _and(swinging) if swinging else ""

    def _epoch(self, rec: dict) -> list[dict]:
        epoch = int(rec.get("epoch") or 0)
        q = rec.get("quality") or {}
        reasons = []
        if q.get("available"):
            classes = q.get("classes")
            # With few confident predictions the class count is noise (3 images can make 3 classes):
            # it speaks only when the classifier recognises a fair share of the samples.
            if isinstance(classes, int) and (_num(q.get("confident")) or 0.0) >= COLLAPSE_MIN_CONFIDENT:
                if classes <= self.best_classes - COLLAPSE_CLASS_DROP:
                    reasons.append(msg("the generated images now fall into {classes} classes, down from "
                                       "{best}", classes=classes, best=self.best_classes))
                self.best_classes = max(self.best_classes, classes)
            covered, modes = q.get("modes_covered"), q.get("modes")
            if isinstance(covered, int) and isinstance(modes, int):
                if self.best_modes >= 2 and covered <= self.best_modes // 2:
                    reasons.append(msg("the generated points cover {covered} of the {modes} modes, down "
                                       "from {best}", covered=covered, modes=modes, best=self.best_modes))
                self.best_modes = max(self.best_modes, covered)
        # Without a classifier or modes to count, the fixed batch's diversity is the only signal.
        div = _num(rec.get("diversity"))
        recovered = True
        if isinstance(q.get("modes"), int) and div is not None and epoch >= 1:
            # A toy generator that gathers all its points in one small patch and moves it from
            # cluster to cluster never covers a mode it could lose: the spread of its points is
            # what falls (the ring-collapse demo: 0.55 at best, then 0.06 to 0.15).
            best = self.best_toy_diversity
            if best > 0 and div < COLLAPSE_TOY_SPREAD * best and not reasons:
                reasons.append(msg("the generated points have gathered in one small patch (spread "
                                   "{diversity}, down from {best})", diversity=round(div, 3), best=round(best, 3)))
            recovered = best <= 0 or div >= COLLAPSE_DIVERSITY_CLEAR * best
            self.best_toy_diversity = max(best, div)
        if div is not None and epoch >= 1 and not q.get("available"):
            if self.best_diversity > 0 and div < COLLAPSE_DIVERSITY * self.best_diversity:
                reasons.append(msg("the samples of the fixed batch have become much more alike (diversity "
                                   "{diversity}, down from {best})", diversity=round(div, 3),
                                   best=round(self.best_diversity, 3)))
            # hysteresis: a diversity hovering around the threshold is not reported again and again
            recovered = div >= COLLAPSE_DIVERSITY_CLEAR * self.best_diversity
            self.best_diversity = max(self.best_diversity, div)
        # A conditional generator that ignores its noise: one image per class, however varied the classes.
        cdiv = _num(rec.get("class_diversity"))
        if cdiv is not None and div and epoch >= 1 and cdiv < COLLAPSE_CLASS_RATIO * div:
            reasons.append(msg("for each class the generator makes nearly the same image whatever the noise "
                               "(diversity within a class {within}, across classes {across})",
                               within=round(cdiv, 3), across=round(div, 3)))
        if reasons:
            return self._raise("mode_collapse", rec, what=reasons[0] if len(reasons) == 1 else joined(reasons))
        if epoch >= 1 and recovered:
            self.active.discard("mode_collapse")
        return []

    # ------------------------------------------------------------------ events
    def _raise(self, kind: str, rec: dict, **fmt) -> list[dict]:
        if kind in self.active:
            return []
        self.active.add(kind)
        return [self._event(kind, int(rec.get("epoch") or 0), int(rec.get("step") or 0), **fmt)]

    def _event(self, kind: str, epoch: int, step: int, **fmt) -> dict:
        message, advice = _TEXT[kind]
        fmt.setdefault("lr_d", float(f"{self.lr_d / 4:.2g}"))
        message = msg(message, **{k: v for k, v in fmt.items() if "{" + k + "}" in message})
        advice = msg(advice, **{k: v for k, v in fmt.items() if "{" + k + "}" in advice})
        return {"type": "event", "epoch": epoch, "step": step, "time": time.time(), "kind": kind,
                "message": str(message), "advice": str(advice),
                "message_id": message.to_json(), "advice_id": advice.to_json()}


class RunMonitor(Monitor):
    """A Monitor bound to a run folder: it reads the step and change lines the trainer wrote since
    the last epoch from metrics.jsonl (one small read per epoch, no host sync in the training loop)
    and rebuilds its state from the whole file when created (so a resumed run keeps its history)."""

    def __init__(self, run, has_probs: bool = True, lr_d: float = 2e-4):
        super().__init__(has_probs, lr_d)
        self.run = run
        records, self.offset = run.read_metrics(0)
        self.replay(records)

    def after_epoch(self, new_records: list[dict]) -> list[dict]:
        """Events raised by the lines written since the last call and by ``new_records`` (this
        epoch's lines, about to be written)."""
        written, self.offset = self.run.read_metrics(self.offset)
        events = []
        for r in written:
            if r.get("type") in ("step", "change"):   # epoch lines and events came through here
                events += self.observe(r)
        for r in new_records:
            events += self.observe(r)
        return events
