"""Datasets in token space: specs and presets, generation, the evaluation suites, the cache.

Light to import (numpy and pydantic, no torch): commands that only read data stay quick.
"""

from axiomatic.data import baselines, suites, tasks, tokenizer
from axiomatic.data.dataset import Dataset
from axiomatic.data.mixtures import PRESETS, DataSpec, preset
from axiomatic.data.references import REFERENCES, select_references
from axiomatic.data.store import Store
from axiomatic.data.tasks import Task, generate, register

# DataSpec, PRESETS and preset are transitivity's (the paper's v1 task); generate takes any task's spec
__all__ = ["PRESETS", "REFERENCES", "DataSpec", "Dataset", "Store", "Task", "baselines", "generate", "preset",
           "register", "select_references", "suites", "tasks", "tokenizer"]
