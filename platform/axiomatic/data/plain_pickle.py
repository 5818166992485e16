"""Loading pickles that hold plain data only, and nothing else.

A pickle can name any importable callable and call it while it loads (``os.system`` through a
``__reduce__``), so ``pickle.load`` on a downloaded file runs whatever its author chose. The
paper's published pickles hold dicts of strings: dict, list, tuple, str, int, float, bool
and None are built by pickle's own opcodes and never go through ``find_class``, so an unpickler
whose ``find_class`` refuses every global loads them and nothing that imports or calls code.
"""

from __future__ import annotations

import io
import pickle

from axiomatic.errors import AxiomaticError


class RefusedPickle(AxiomaticError, pickle.UnpicklingError):
    """The pickle asked for something that is not plain data; nothing of it was run."""


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Every global is refused, builtins included: REDUCE, BUILD, NEWOBJ and the extension
        # registry all fetch their callable here, so none of them can run anything.
        raise RefusedPickle(f"refused global '{module}.{name}': only plain data (dict, list, "
                            "tuple, str, int, float, bool, None) may be loaded")

    def persistent_load(self, pid):
        raise RefusedPickle(f"refused persistent id {pid!r}: only plain data may be loaded")


def loads_plain(data: bytes):
    """The object a pickle of plain data holds; RefusedPickle for anything that names code."""
    return _PlainDataUnpickler(io.BytesIO(data)).load()
