"""What a Tune trial is asked to do: one cell of the study, written by the searcher, read by the
trainable.

Tune carries a trial's config as a plain dict (it is saved as JSON with the trial), so the task
travels as :meth:`CellTask.to_config` and is rebuilt with :meth:`CellTask.from_config`; the keys
are the ones trial configs have always had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from axiomatic.data.store import Store
from axiomatic.location import Location
from axiomatic.train.config import RunConfig


@dataclass(frozen=True)
class CellTask:
    cell: str  # the cell's id in the ledger
    cell_dir: Location  # its directory in the study's storage: history, attempts, checkpoint
    run: RunConfig
    workers: int
    cpu_per_worker: float
    gpu_per_worker: float
    cache: Path  # the data directories the command resolved, so no worker looks for them again
    published: Path
    custom_per_worker: dict[str, float] = field(default_factory=dict)  # Ray custom resources

    def to_config(self) -> dict:
        return {"cell": self.cell, "cell_dir": self.cell_dir.uri, "run": self.run.to_dict(),
                "workers": self.workers, "cpu_per_worker": self.cpu_per_worker,
                "gpu_per_worker": self.gpu_per_worker, "cache": str(self.cache),
                "published": str(self.published), "custom_per_worker": self.custom_per_worker}

    @classmethod
    def from_config(cls, config: dict) -> "CellTask":
        return cls(config["cell"], Location(config["cell_dir"]), RunConfig.from_dict(config["run"]),
                   config["workers"], config["cpu_per_worker"], config["gpu_per_worker"],
                   Path(config["cache"]), Path(config["published"]), config.get("custom_per_worker", {}))

    def store(self) -> Store:
        return Store(self.cache, self.published)
