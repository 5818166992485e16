"""Training one run: its configuration, the loop (which knows nothing of Ray), evaluation and
checkpoints.

``axiomatic.train.launch`` (a run under Ray Train, or in-process with its history and checkpoint
kept in a directory) is not imported here: it imports Ray, about two seconds more for every user
of this package.
"""

from axiomatic.train import checkpoint
from axiomatic.train.config import RunConfig, build_run, load_run, load_yaml
from axiomatic.train.evaluate import evaluate
from axiomatic.train.recipes import TrainConfig, train_config
from axiomatic.train.loop import Trainer, Worker, resolve_device, train_worker
from axiomatic.train.run_data import RunData, load_data, without_rows_of
from axiomatic.train.steps import expected_training_rows, total_steps

__all__ = ["RunConfig", "RunData", "TrainConfig", "Trainer", "Worker", "build_run", "checkpoint", "evaluate",
           "expected_training_rows", "load_data", "load_run", "load_yaml", "resolve_device", "total_steps",
           "train_config", "train_worker", "without_rows_of"]
