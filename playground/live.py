"""Live settings: what a running job accepts from its control file, declared once.

``LIVE_SETTINGS`` drives everything that knows about them: the worker's live state and the optimizers
it sets (:class:`LiveState`), status.json's ``live`` entry, the train checkpoint's ``live`` metadata
and a resume from it, the charts' change markers and the Watch page's inputs. A value is validated by
:func:`check_live` (the config's own ranges) once on each side of the process boundary: by the job
manager before it writes control.json, and by the worker when it reads it.

:class:`ControlPoller` is the worker's side of control.json: pause, resume, stop and live changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .config import LIVE_FIELDS, ConfigError, TrainConfig
from .i18n import N_
from .runs import Run, control_seq


@dataclass(frozen=True)
class LiveSetting:
    name: str          # the config field
    kind: type         # float or int
    label: str         # message id: its visible name (the Train form's label too)


LIVE_SETTINGS = (
    LiveSetting("lr_g", float, N_("Learning rate of G")),
    LiveSetting("lr_d", float, N_("Learning rate of D")),
    LiveSetting("d_steps", int, N_("D steps per G step")),
    LiveSetting("g_steps", int, N_("G steps per D step")),
)
assert tuple(s.name for s in LIVE_SETTINGS) == LIVE_FIELDS
BY_NAME = {s.name: s for s in LIVE_SETTINGS}


def check_live(cfg: TrainConfig, values: dict) -> dict:
    """``values`` (a subset of the live settings) checked against the config's ranges and given each
    setting's type; ConfigError naming each bad field (an unknown name is one)."""
    unknown = {k: "is not a setting that can change while training" for k in values if k not in BY_NAME}
    if unknown:
        raise ConfigError(unknown)
    try:
        checked = cfg.replace(**values).validate()
    except TypeError as e:
        raise ConfigError({k: str(e) for k in values}) from None
    return {k: BY_NAME[k].kind(getattr(checked, k)) for k in values}


@dataclass
class LiveState:
    """The live settings a worker trains with now, plus the pause/stop requests of control.json."""

    values: dict
    paused: bool = False
    stop: bool = False
    seq: int = -1
    mtime: float = 0.0

    @classmethod
    def from_config(cls, cfg: TrainConfig, saved: dict | None = None) -> "LiveState":
        """The config's values, or those a train checkpoint saved (its ``live`` metadata)."""
        saved = saved or {}
        return cls({s.name: s.kind(saved.get(s.name, getattr(cfg, s.name))) for s in LIVE_SETTINGS})

    def __getattr__(self, name):   # live.lr_g, live.d_steps, live.g_steps
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def as_dict(self) -> dict:
        """What status.json and the checkpoint metadata store."""
        return dict(self.values)


@dataclass
class ControlPoller:
    """Reads ``control.json`` when it changed (a cheap stat first) and applies it to ``state``.

    ``poll()`` returns the change records of live settings it applied (for metrics.jsonl); a value
    the config's ranges refuse is logged and ignored."""

    run: Run
    cfg: TrainConfig
    state: LiveState
    log: callable = field(default=lambda m: None)

    def poll(self, epoch: int, step: int) -> list[dict]:
        try:
            mtime = self.run.control_path.stat().st_mtime
        except FileNotFoundError:
            return []
        live = self.state
        if mtime == live.mtime:
            return []
        live.mtime = mtime
        ctl = self.run.read_control()
        seq = control_seq(ctl)  # an edited "seq" reads as 0; it must not end the run
        if seq == live.seq:
            return []
        live.seq = seq
        wanted = ctl.get("state")
        if wanted == "stopped":
            live.stop = True
        elif wanted in ("paused", "running"):
            if (wanted == "paused") != live.paused:
                self.log("Paused." if wanted == "paused" else "Resumed.")
            live.paused = wanted == "paused"
        changes = []
        for s in LIVE_SETTINGS:
            if s.name not in ctl:
                continue
            try:
                new = check_live(self.cfg, {s.name: ctl[s.name]})[s.name]
            except ConfigError as e:
                self.log(f"Ignored a live change of {s.name} to {ctl[s.name]!r}: {e}")
                continue
            old = live.values[s.name]
            if new != old:
                live.values[s.name] = new
                changes.append({"type": "change", "epoch": epoch, "step": step, "time": time.time(),
                                "field": s.name, "old": old, "new": new})
                self.log(f"Changed {s.name} from {old:g} to {new:g} at step {step}.")
        return changes
