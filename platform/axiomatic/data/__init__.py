"""Datasets in token space: specs and presets, generation, the evaluation suites, the cache.

Light to import (numpy and pydantic, no torch): commands that only read data stay quick.
"""

from axiomatic.data import baselines, suites, tokenizer
from axiomatic.data.dataset import Dataset
from axiomatic.data.mixtures import PRESETS, DataSpec, generate, preset
from axiomatic.data.references import REFERENCES, select_references
from axiomatic.data.store import Store

__all__ = ["PRESETS", "REFERENCES", "DataSpec", "Dataset", "Store", "baselines", "generate", "preset",
           "select_references", "suites", "tokenizer"]
