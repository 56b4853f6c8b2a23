"""aecodec: learned image compression that decodes bit-exactly everywhere.

    data = aecodec.encode("photo.png")          # .aec bytes, default codec and quality
    image = aecodec.decode(data)                 # PIL.Image
    aecodec.list_codecs()                        # registered codecs; the first is the default
"""
import warnings

# compressai decorates functions with torch.jit.script at import; torch 2.14 warns about it on every start.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

from .api import FileInfo, decode, decode_array, decode_many, encode, encode_array, encode_many, inspect
from .errors import AecError, AecWarning, FormatError, InputImageError, ModelMismatchError, OutputError, UnknownCodecError
from .registry import CodecInfo, get_codec, list_codecs

__version__ = "0.1.0"


def load(name: str | None = None, quality: float | None = None, device: str = "cpu"):
    """torch.hub style: the trained ``nn.Module`` of a registered codec, in eval mode, for research use.

    One variable-rate network serves every quality, so ``quality`` is only checked (its forward pass takes the
    level). For coding, ``get_codec(name).load(device)`` returns the ready codec object."""
    info = get_codec(name)
    if quality is not None and not min(info.qualities) <= quality <= max(info.qualities):
        raise UnknownCodecError(f"quality {quality} outside {min(info.qualities)}..{max(info.qualities)}")
    return info.load(device).model


__all__ = [
    "AecError", "AecWarning", "CodecInfo", "FileInfo", "FormatError", "InputImageError", "ModelMismatchError", "OutputError",
    "UnknownCodecError", "decode", "decode_array", "decode_many", "encode", "encode_array", "encode_many", "get_codec", "inspect", "list_codecs", "load", "__version__",
]
from . import pillow_plugin  # noqa: E402,F401  (registers .aec with Pillow)
