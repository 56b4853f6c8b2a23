"""aecodec: learned image compression that decodes bit-exactly everywhere.

    data = aecodec.encode("photo.png")          # .aec bytes, default codec and quality
    image = aecodec.decode(data)                 # PIL.Image
    aecodec.list_codecs()                        # registered codecs, the default first

Importing is cheap: the coding functions (and PyTorch) load on first use, so ``aecodec --help``, ``list`` and
``info`` answer at once.
"""
from __future__ import annotations

import warnings
from importlib import import_module

from .errors import (
    AecError,
    AecWarning,
    FormatError,
    InputImageError,
    ModelMismatchError,
    OutputError,
    UnknownCodecError,
)
from .registry import CodecInfo, get_codec, list_codecs

# compressai decorates functions with torch.jit.script at import; torch 2.14 warns about it on every start.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

__version__ = "0.1.0"

_LAZY = {
    "encode": "api", "encode_many": "api", "decode": "api", "decode_many": "api", "encode_array": "api",
    "decode_array": "api", "load": "api", "import_compressai": "api", "inspect": "fileinfo", "FileInfo": "fileinfo",
    "encode_folder": "folders", "decode_folder": "folders", "FolderReport": "folders", "FileResult": "folders",
}


def __getattr__(name: str):
    """PEP 562: the API's heavy functions, imported on first access."""
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aecodec' has no attribute {name!r}")


__all__ = [
    "AecError", "AecWarning", "CodecInfo", "FileInfo", "FileResult", "FolderReport", "FormatError", "InputImageError",
    "ModelMismatchError", "OutputError", "UnknownCodecError", "decode", "decode_array", "decode_folder",
    "decode_many", "encode", "encode_array", "encode_folder", "encode_many", "get_codec", "import_compressai",
    "inspect", "list_codecs", "load", "__version__",
]
from . import pillow_plugin  # noqa: E402,F401  (registers .aec with Pillow)
