"""The GPT-2-style decoder, its configuration and presets, positional encodings, row layouts."""

from axiomatic.model.config import PRESETS, ModelConfig
from axiomatic.model.decoder import Decoder, num_parameters
from axiomatic.model.layout import Layout
from axiomatic.model.positional import PE_KINDS

__all__ = ["PE_KINDS", "PRESETS", "Decoder", "Layout", "ModelConfig", "num_parameters"]
