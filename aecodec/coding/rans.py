"""rANS coding of integer symbols under stored CDF tables (``aecodec.coding.tables``), through CompressAI's C++
coder; its list-based interface is converted here, at the edge. Same interface as ``aecodec.coding.ans``'s
``CategoricalCoder``: ``encode(symbols, indexes)``, ``decode(data, indexes)`` and a two-part ``reader``."""
from __future__ import annotations

from typing import Callable

import torch
from compressai.ans import RansDecoder, RansEncoder
from torch import Tensor

from .tables import CdfTable


class RansCoder:
    """Symbols with per-symbol table indexes <-> bytes, through CompressAI's rANS."""

    def __init__(self, table: CdfTable):
        self.cdfs, self.lengths, self.offsets = table.as_lists()

    def encode(self, symbols: Tensor, indexes: Tensor) -> bytes:
        return RansEncoder().encode_with_indexes(
            symbols.reshape(-1).int().tolist(), indexes.reshape(-1).int().tolist(),
            self.cdfs, self.lengths, self.offsets)

    def decode(self, data: bytes, indexes: Tensor) -> Tensor:
        return self.reader(data, indexes.numel())(indexes)

    def reader(self, data: bytes, total: int) -> Callable[[Tensor], Tensor]:
        """Decode one stream in parts: each call takes the next ``indexes.numel()`` symbols (of ``total``), so
        the indexes of a later part may depend on the symbols of an earlier one (context models)."""
        # The C++ decoder does not bound its reads; zero padding keeps a damaged stream inside the buffer.
        dec = RansDecoder()
        dec.set_stream(data + bytes(4 * total + 64))

        def read(indexes: Tensor) -> Tensor:
            out = dec.decode_stream(indexes.reshape(-1).int().tolist(), self.cdfs, self.lengths, self.offsets)
            return torch.tensor(out, dtype=torch.int64).reshape(indexes.shape)
        return read
