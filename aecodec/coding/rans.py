"""rANS coding of integer symbols under stored CDF tables (``aecodec.coding.tables``), through CompressAI's C++
coder; its list-based interface is converted here, at the edge. Same interface as ``aecodec.coding.ans``'s
``CategoricalCoder``: ``encode(symbols, indexes)``, ``decode(data, indexes)`` and a two-part ``reader``.

The compiled coder is loaded from CompressAI's installed files by itself (``compiled_coder``): importing
``compressai.ans`` the usual way runs CompressAI's package ``__init__``, which imports its models, datasets and
losses (torch_geometric, pandas, scipy among them) and costs every encode and decode seconds. Same code, same
bytes: files coded either way are identical.
"""
from __future__ import annotations

import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from functools import lru_cache
from types import ModuleType
from typing import Callable

import torch
from torch import Tensor

from .tables import CdfTable

_MODULE = "compressai.ans"


@lru_cache(maxsize=None)
def compiled_coder() -> ModuleType:
    """CompressAI's compiled rANS module, without CompressAI's Python package. The module is created under its
    own name and then dropped from ``sys.modules``: a later ``import compressai`` (training, benchmarks) finds
    the already-initialised extension and shares its classes."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    try:
        dist = importlib.metadata.distribution("compressai")
        file = next(f for f in dist.files or () if f.parent.name == "compressai" and f.name.startswith("ans.")
                    and f.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
        path = str(dist.locate_file(file))
    except (importlib.metadata.PackageNotFoundError, StopIteration):  # an unusual install: the usual import
        import compressai.ans

        return compressai.ans
    loader = importlib.machinery.ExtensionFileLoader(_MODULE, path)
    spec = importlib.util.spec_from_file_location(_MODULE, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(_MODULE, None)
    return module


class RansCoder:
    """Symbols with per-symbol table indexes <-> bytes, through CompressAI's rANS."""

    def __init__(self, table: CdfTable):
        self.cdfs, self.lengths, self.offsets = table.as_lists()
        self._ans = compiled_coder()

    def encode(self, symbols: Tensor, indexes: Tensor) -> bytes:
        return self._ans.RansEncoder().encode_with_indexes(
            symbols.reshape(-1).int().tolist(), indexes.reshape(-1).int().tolist(),
            self.cdfs, self.lengths, self.offsets)

    def decode(self, data: bytes, indexes: Tensor) -> Tensor:
        return self.reader(data, indexes.numel())(indexes)

    def reader(self, data: bytes, total: int) -> Callable[[Tensor], Tensor]:
        """Decode one stream in parts: each call takes the next ``indexes.numel()`` symbols (of ``total``), so
        the indexes of a later part may depend on the symbols of an earlier one (context models)."""
        # The C++ decoder does not bound its reads; zero padding keeps a damaged stream inside the buffer.
        dec = self._ans.RansDecoder()
        dec.set_stream(data + bytes(4 * total + 64))

        def read(indexes: Tensor) -> Tensor:
            out = dec.decode_stream(indexes.reshape(-1).int().tolist(), self.cdfs, self.lengths, self.offsets)
            return torch.tensor(out, dtype=torch.int64).reshape(indexes.shape)
        return read
