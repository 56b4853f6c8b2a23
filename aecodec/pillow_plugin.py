"""Pillow plugin: after ``import aecodec``, ``Image.open("x.aec")`` decodes and ``im.save("x.aec", quality=6)``
encodes (optional ``codec=`` and ``effort=`` too). Files are recognised by their magic bytes."""
from __future__ import annotations

from PIL import Image, ImageFile

from .format.container import MAGIC


def _accept(prefix: bytes) -> bool:
    return prefix[:4] == MAGIC


class AecImageFile(ImageFile.ImageFile):
    format = "AEC"
    format_description = "aecodec learned image"

    def _open(self) -> None:
        from .api import decode

        decoded = decode(self.fp.read())  # entropy-coded as a whole: decode once, at open
        self._size = decoded.size
        self._mode = decoded.mode
        self._decoded = decoded
        self.tile = []

    def load(self):
        if getattr(self, "_decoded", None) is not None:
            self.im = self._decoded.im
            self._decoded = None
        return Image.Image.load(self)


def _save(im: Image.Image, fp, filename) -> None:
    from .api import encode

    info = im.encoderinfo
    fp.write(encode(im, codec=info.get("codec"), quality=info.get("quality"), effort=info.get("effort", 0)))


Image.register_open(AecImageFile.format, AecImageFile, _accept)
Image.register_save(AecImageFile.format, _save)
Image.register_extension(AecImageFile.format, ".aec")
Image.register_mime(AecImageFile.format, "image/x-aec")
