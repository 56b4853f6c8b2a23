"""Pillow plugin: after ``import aecodec``, ``Image.open("x.aec")`` reads the header (size and mode, no
decoding) and ``im.load()`` decodes through the registered ``AEC`` decoder; ``im.save("x.aec", quality=6)``
encodes (optional ``codec=``, ``effort=`` and ``weights=`` too). Files are recognised by their magic bytes."""
from __future__ import annotations

from PIL import Image, ImageFile

from .errors import AecError
from .format import container


def _accept(prefix: bytes) -> bool:
    return prefix[:4] == container.MAGIC


class AecImageFile(ImageFile.ImageFile):
    format = "AEC"
    format_description = "aecodec learned image"

    def _open(self) -> None:
        try:
            c = container.unpack(self.fp.read())  # fields and CRC only: entropy decoding waits for load()
        except AecError as e:
            raise SyntaxError(str(e)) from None
        if c.mode == "F":
            raise SyntaxError("this .aec file holds an array, not an image")
        self._size = (c.width, c.height)
        self._mode = c.mode
        self.tile = [ImageFile._Tile("aec", (0, 0, *self._size), 0)]  # the decoder reads the whole file


class AecDecoder(ImageFile.PyDecoder):
    """Decodes a whole .aec file at once (a learned synthesis is not a scanline codec) into the image's mode."""

    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        from .api import decode

        decoded = decode(self.fd.read())
        self.set_as_raw(decoded.tobytes(), decoded.mode)
        return -1, 0


def _save(im: Image.Image, fp, filename) -> None:
    from .api import encode

    info = im.encoderinfo
    fp.write(encode(im, codec=info.get("codec"), quality=info.get("quality"), effort=info.get("effort", 0),
                    weights=info.get("weights")))


Image.register_open(AecImageFile.format, AecImageFile, _accept)
Image.register_decoder("aec", AecDecoder)
Image.register_save(AecImageFile.format, _save)
Image.register_extension(AecImageFile.format, ".aec")
Image.register_mime(AecImageFile.format, "image/x-aec")
