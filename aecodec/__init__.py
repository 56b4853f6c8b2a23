"""aecodec: learned image compression that decodes bit-exactly everywhere.

    data = aecodec.encode("photo.png")          # .aec bytes, default codec and quality
    image = aecodec.decode(data)                 # PIL.Image
    aecodec.list_codecs()                        # registered codecs; the first is the default
"""
import warnings

# compressai decorates functions with torch.jit.script at import; torch 2.14 warns about it on every start.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

from .api import FileInfo, decode, encode, inspect
from .errors import AecError, AecWarning, FormatError, InputImageError, ModelMismatchError, OutputError, UnknownCodecError
from .registry import CodecInfo, get_codec, list_codecs

__version__ = "0.1.0"


def load(name: str | None = None, device: str = "cpu"):
    """The ready-to-code codec object of a registered codec (its ``.model`` is the torch module)."""
    return get_codec(name).load(device)


__all__ = [
    "AecError", "AecWarning", "CodecInfo", "FileInfo", "FormatError", "InputImageError", "ModelMismatchError", "OutputError",
    "UnknownCodecError", "decode", "encode", "get_codec", "inspect", "list_codecs", "load", "__version__",
]
from . import pillow_plugin  # noqa: E402,F401  (registers .aec with Pillow)
