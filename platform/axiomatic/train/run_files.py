"""A run's files: kept in storage, written by training in a directory on the node that trains.

A study cell's are kept in its ``cells/<cell>/`` (study/ledger.py). In a local (or NFS-mounted) run directory the two are one: training appends its history and keeps
its checkpoint (``checkpoint/``, ``checkpoint.prev/``) straight in ``cells/<cell>/``. In object
storage a cell trains in a scratch directory of the node that runs it and mirrors each report
there: the history whole, its TensorBoard event files, and the checkpoint into one of two slots.
Nothing the driver or a later attempt needs stays on the node, so a cell may run anywhere.

The two slots stand in for the renames object stores lack: a new checkpoint overwrites the slot
that does not hold the newest one, its ``state.json`` last, so a kill at any point leaves the
other slot whole; the next attempt takes the newest slot that reads back whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from axiomatic.location import Location
from axiomatic.train import checkpoint
from axiomatic.train.history import HISTORY

ATTEMPTS = "attempts.jsonl"  # one row per start of a run
ERROR = "error.txt"  # the exception of the last failed attempt
SLOTS = ("checkpoint-a", "checkpoint-b")
SCRATCH_VARIABLE = "AXIOMATIC_SCRATCH"
EVENTS = "events.out.tfevents."  # TensorBoard's event file prefix


class RunFiles:
    def __init__(self, location: Location, scratch: Path | None = None):
        self.location = location
        self.mirrored = not location.is_local
        self.work = (scratch or scratch_dir(location)) if self.mirrored else location.local_path
        self._newest_slot: str | None = None

    def start(self, trial_id: str, node: str | None = None) -> Path | None:
        """Prepare an attempt: the newest whole checkpoint (a local directory) or None, the
        history cut back to it (later evaluations will be made again), the attempt recorded
        (with the Ray node it runs on and the directory it trains in)."""
        resume = self.fetch_checkpoint()
        step = checkpoint.read_meta(resume)["step"] if resume else 0
        self.location.write_jsonl(HISTORY, [row for row in self.history() if row.get("step", 0) <= step])
        self.pull_history()
        self.location.append_jsonl(ATTEMPTS, {"started": time.time(), "resumed_from_step": step,
                                              "trial_id": trial_id, "node": node, "work": str(self.work)})
        return resume

    def history(self) -> list[dict]:
        return self.location.read_jsonl(HISTORY)

    def pull_history(self) -> None:
        """Copy the stored history to ``work``, where training appends to it (mirrored runs)."""
        if self.mirrored:
            self.work.mkdir(parents=True, exist_ok=True)
            Location(self.work).write_jsonl(HISTORY, self.history())

    def publish(self, checkpoint_dir: Path | None) -> None:
        """Mirror what training just wrote in ``work`` (a no-op where work is the storage)."""
        if not self.mirrored:
            return
        self.location.upload(self.work / HISTORY, HISTORY)
        for events in self.work.glob(f"{EVENTS}*"):
            self.location.upload(events, events.name)
        if checkpoint_dir is not None:
            self._keep_checkpoint(Path(checkpoint_dir))

    def record_error(self, text: str) -> None:
        self.location.write_text(ERROR, text)

    def clean(self) -> None:
        """Remove the scratch directory of a mirrored cell (everything in it is in storage)."""
        if self.mirrored:
            shutil.rmtree(self.work, ignore_errors=True)

    def fetch_checkpoint(self) -> Path | None:
        """The newest checkpoint that reads back whole, as a local directory (None: none yet)."""
        self.work.mkdir(parents=True, exist_ok=True)
        if not self.mirrored:
            return checkpoint.latest(self.work / "checkpoint")
        return self._download_newest_slot()

    # ------------------------------------------------------------ checkpoints in object storage

    def _download_newest_slot(self) -> Path | None:
        """Download both slots; keep the newest whole one as ``work/checkpoint``."""
        target = self.work / "checkpoint"
        shutil.rmtree(target, ignore_errors=True)
        best = None
        for slot in SLOTS:
            local = self.work / slot
            shutil.rmtree(local, ignore_errors=True)
            if self.location.exists(slot):
                self.location.download(slot, local)
            if checkpoint.latest(local) == local:  # reads back whole
                step = checkpoint.read_meta(local)["step"]
                if best is None or step > best[0]:
                    best = (step, slot)
        if best is None:
            return None
        self._newest_slot = best[1]
        (self.work / best[1]).rename(target)
        for slot in SLOTS:
            shutil.rmtree(self.work / slot, ignore_errors=True)
        return target

    def _keep_checkpoint(self, source: Path) -> None:
        slot = SLOTS[1] if self._newest_slot == SLOTS[0] else SLOTS[0]
        self.location.delete(slot)
        for path in sorted(p for p in source.iterdir() if p.name != checkpoint.STATE):
            self.location.upload(path, f"{slot}/{path.name}")
        self.location.upload(source / checkpoint.STATE, f"{slot}/{checkpoint.STATE}")  # last: complete now
        self._newest_slot = slot


def scratch_dir(location: Location) -> Path:
    """This node's working directory for the run stored at ``location``: in $AXIOMATIC_SCRATCH
    (as the node's Ray processes see it), else in the temp dir's ``axiomatic-cells/``."""
    digest = hashlib.sha256(location.uri.encode()).hexdigest()[:16]
    root = os.environ.get(SCRATCH_VARIABLE) or Path(tempfile.gettempdir()) / "axiomatic-cells"
    return Path(root) / f"{location.name}-{digest}"
