"""Checkpoints: model + optimizer + position in training + the run's config, in one directory.

Tensors are stored with ``torch.save`` and read back with ``weights_only=True``, so loading a
checkpoint never unpickles arbitrary objects; everything else is JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from axiomatic.data import tokenizer
from axiomatic.errors import UserError
from axiomatic.train.config import RunConfig

STATE = "state.json"


@dataclass
class TrainingState:
    """Where a run is: everything besides weights and optimizer that an exact resume needs."""

    step: int = 0
    epoch: int = 0  # of the main data
    step_in_epoch: int = 0
    stage: int | None = None  # curriculum stage being trained (len(curriculum): the main data);
    stage_start: int = 0  # ... and the step it began at. None: not recorded (older checkpoints)
    window: list[float] = field(default_factory=list)  # recent training accuracies, for until_acc
    elapsed: float = 0.0  # seconds of training and evaluation so far
    reached: dict[str, list[float]] = field(default_factory=dict)  # threshold -> [step, seconds]
    stage_acc: dict[str, float] = field(default_factory=dict)  # finished stage -> its last training accuracy


def save(directory: Path, model: torch.nn.Module, optimizer, state: TrainingState, run: RunConfig,
         data_digest: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), directory / "model.pt")
    torch.save(optimizer.state_dict(), directory / "optimizer.pt")
    torch.save(torch.get_rng_state(), directory / "rng.pt")
    meta = {**asdict(state), "run": run.to_dict(), "data_digest": data_digest,
            "tokenizer": tokenizer.VERSION, "vocab_size": tokenizer.VOCAB_SIZE}
    (directory / STATE).write_text(json.dumps(meta, indent=2))
    return directory


def read_meta(directory: str | Path) -> dict:
    """A checkpoint's JSON metadata, checked for compatibility with this tokenizer."""
    directory = Path(directory)
    path = directory / STATE
    if not path.is_file():
        raise UserError(f"{directory}: not a checkpoint (no {STATE})")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a checkpoint's state (cut short or corrupted: {err})") from None
    if not isinstance(meta, dict) or not {"step", "run"} <= meta.keys():
        raise UserError(f"{path}: not a checkpoint's state (expected a mapping with 'step' and 'run', "
                        f"got {type(meta).__name__})")
    if meta.get("tokenizer") != tokenizer.VERSION or meta.get("vocab_size") != tokenizer.VOCAB_SIZE:
        raise UserError(f"{path}: field 'tokenizer' is {meta.get('tokenizer')!r} (vocab "
                        f"{meta.get('vocab_size')}); this platform reads {tokenizer.VERSION!r} "
                        f"(vocab {tokenizer.VOCAB_SIZE})")
    return meta


def read_run(directory: str | Path) -> tuple[RunConfig, dict]:
    """The run a checkpoint was trained with, and the checkpoint's metadata."""
    meta = read_meta(directory)
    try:
        return RunConfig.from_dict(meta["run"]), meta
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{Path(directory) / STATE}: field 'run' does not describe a valid run: {err}") from None


def weights_of(path: str | Path) -> Path:
    """The checkpoint ``train.init_from`` names: the directory itself, or a run directory's
    ``checkpoint`` (its latest); checked to read as a checkpoint of this tokenizer."""
    path = Path(path)
    for candidate in (path, path / "checkpoint"):
        if (candidate / STATE).is_file():
            read_meta(candidate)
            return candidate
    raise UserError(f"{path}: no checkpoint there (expected {STATE} in it or in its 'checkpoint' directory)")


def load_weights(directory: str | Path, model: torch.nn.Module) -> None:
    """Only the weights of a checkpoint: a run that starts from another run's model."""
    directory = Path(directory)
    read_meta(directory)
    _load_model(directory, model)


def restore(directory: str | Path, model: torch.nn.Module, optimizer=None) -> TrainingState:
    """Load weights (and optimizer + RNG when given) into built objects; returns the position."""
    directory = Path(directory)
    meta = read_meta(directory)
    _load_model(directory, model)
    if optimizer is not None:
        optimizer.load_state_dict(_load_tensors(directory / "optimizer.pt"))
        torch.set_rng_state(_load_tensors(directory / "rng.pt"))
    return TrainingState(**{f.name: meta[f.name] for f in fields(TrainingState) if f.name in meta})


def _load_model(directory: Path, model: torch.nn.Module) -> None:
    weights = _load_tensors(directory / "model.pt")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        # torch's first line is a bare heading; the second names the first tensor that differs
        details = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        raise UserError(f"{directory / 'model.pt'}: weights do not fit the model described by "
                        f"{STATE} field 'run.model': {details[0] if details else err}") from None


def _load_tensors(path: Path):
    """``torch.load(weights_only=True)``, with a missing, empty or cut-short file named."""
    if not path.is_file():
        raise UserError(f"{path}: missing from the checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        first = str(err).strip().split(". ")[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a readable tensor file (cut short or corrupted: {first})") from None


TENSOR_FILES = ("model.pt", "optimizer.pt", "rng.pt")


def previous_of(target: Path) -> Path:
    return target.with_name(target.name + ".prev")


def keep(source: Path, target: Path) -> None:
    """Make ``target`` a copy of checkpoint ``source``, keeping the one it replaces as
    ``target.prev``. Each is complete before it is named: the copy is written as ``target.new``
    and renamed, so a crash at any moment leaves at least one complete checkpoint."""
    target = Path(target)
    fresh, previous = target.with_name(target.name + ".new"), previous_of(target)
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(source, fresh)
    if target.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.rename(target, previous)
    os.rename(fresh, target)


def latest(target: Path) -> Path | None:
    """The newest checkpoint that reads back whole: ``target``, else ``target.prev`` (a crash
    between two renames, or a damaged file), else None."""
    for candidate in (Path(target), previous_of(Path(target))):
        if not (candidate / STATE).is_file():
            continue
        try:
            read_meta(candidate)
            for name in TENSOR_FILES:
                _load_tensors(candidate / name)
        except UserError:
            continue
        return candidate
    return None
