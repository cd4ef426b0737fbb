"""An incremental reader of a run's metrics.jsonl for live views.

A watch page polls every two seconds; re-reading a long metrics file each time would grow with the
run. The cache keeps the byte offset of the last complete line and reads only what was appended
(``Run.read_metrics(offset)``). When the file was replaced (a resume truncates it to the epochs it
keeps) the inode or size gives that away and the cache starts over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from playground.runs import Run


@dataclass
class MetricsCache:
    """Records of one run split by type: ``steps``, ``epochs``, ``changes``, ``events``, and the
    records of a family's own types in ``other``."""

    offset: int = 0
    inode: int | None = None
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    other: dict[str, list[dict]] = field(default_factory=dict)   # a family's own records, by type

    def reset(self) -> None:
        self.offset, self.inode = 0, None
        self.steps, self.epochs, self.changes, self.events = [], [], [], []
        self.other = {}

    def of_type(self, kind: str) -> list[dict]:
        """The records of type ``kind`` read so far."""
        known = {"step": self.steps, "epoch": self.epochs, "change": self.changes, "event": self.events}
        return known[kind] if kind in known else self.other.get(kind, [])

    def update(self, run: Run) -> int:
        """Read what was appended since the last call; returns the number of new records."""
        try:
            st = os.stat(run.metrics_path)
        except FileNotFoundError:
            if self.offset:
                self.reset()
            return 0
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            self.reset()
        self.inode = st.st_ino
        if st.st_size == self.offset:
            return 0
        records, self.offset = run.read_metrics(self.offset)
        for r in records:
            kind = r.get("type")
            if kind == "step":
                self.steps.append(r)
            elif kind == "epoch":
                self.epochs.append(r)
            elif kind == "change":
                self.changes.append(r)
            elif kind == "event":
                self.events.append(r)
            elif isinstance(kind, str):
                self.other.setdefault(kind, []).append(r)
        return len(records)
