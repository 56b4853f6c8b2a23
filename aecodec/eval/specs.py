"""The curves a benchmark names and how one setting of each is coded: a classical codec, a registered one
(``NAME:effortN`` at encoder effort N), or the codec of a weights file (``weights:FILE``); the benchmark's
points and the compare page code through the same ``code``."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from PIL import Image

from ..errors import UnknownCodecError
from ..registry import SINGLE_RATE, get_codec, list_codecs
from ..variants import resolve
from .baselines import BASELINES


def available_codecs() -> list[str]:
    """The registered image codecs with shipped weights, then the classical codecs installed here."""
    return [c.name for c in list_codecs("image") if c.weights] + [n for n, b in BASELINES.items() if b.available()]


OPTIONAL = {"jpegxl": "pip install imagecodecs"}  # classical codecs an extra provides


def resolve_codecs(spec: str | None, anchor: str) -> tuple[list[str], list[str]]:
    """(the curves to benchmark, the optional ones skipped for want of their package) of a comma list (None:
    every available codec); an unknown name, an empty list, or an ``anchor`` not among them is refused here,
    before any coding."""
    known = available_codecs()
    names = known if spec is None else [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UnknownCodecError(f"no codec given (available: {', '.join(known)})")
    chosen, skipped = [], []
    for n in names:
        base, effort, weights = parse_spec(n)
        if n in known or (base in known and effort) or weights:
            chosen.append(n)
        elif n in OPTIONAL and n in BASELINES:
            skipped.append(n)
        else:
            raise UnknownCodecError(f"unknown or unavailable codec {n!r:.60} (available: {', '.join(known)})")
    if anchor not in chosen:
        raise UnknownCodecError(f"the BD-rate anchor {anchor!r:.60} is not among the benchmarked codecs "
                                f"({', '.join(chosen)}): add it to --codecs or pick another --anchor")
    return chosen, skipped


def parse_spec(spec: str) -> tuple[str, int, str | None]:
    """A benchmarked curve -> (codec, encoder effort, weights file or None): 'hyperprior' ->
    ('hyperprior', 0, None); 'hyperprior:effort2' -> ('hyperprior', 2, None); 'weights:FILE' -> (the codec of
    that weights file, e.g. an imported CompressAI model, 0, 'FILE')."""
    name, _, option = spec.partition(":")
    if name == "weights" and option:
        if not Path(option).is_file():
            raise UnknownCodecError(f"bad codec spec {spec!r}: no weights file {option}")
        return resolve(None, option).name, 0, option
    if not option:
        return name, 0, None
    if name in BASELINES or not option.startswith("effort") or not option[len("effort"):].isdigit():
        raise UnknownCodecError(f"bad codec spec {spec!r} (learned codecs take :effortN, or weights:FILE)")
    return name, int(option[len("effort"):]), None


def cache_key(spec: str) -> str:
    """A spec as a folder name: 'weights:FILE' by the file's content, so a changed file is measured anew."""
    if spec.startswith("weights:"):
        return "weights-" + hashlib.sha256(Path(spec[len("weights:"):]).read_bytes()).hexdigest()[:16]
    return spec


def settings(codec: str) -> tuple[float, ...]:
    name, _, _ = parse_spec(codec)
    return BASELINES[name].settings if name in BASELINES else get_codec(name).qualities or (SINGLE_RATE,)


def code(codec: str, q: float, im: Image.Image) -> tuple[bytes, Image.Image, float]:
    """(file bytes, decoded image, the time the encode ended)."""
    import aecodec

    if codec in BASELINES:
        b = BASELINES[codec]
        data = b.encode(im, q)
        t1 = time.perf_counter()
        return data, b.decode(data), t1
    name, effort, weights = parse_spec(codec)
    data = aecodec.encode(im, codec=name, quality=q, effort=effort, weights=weights)
    t1 = time.perf_counter()
    return data, aecodec.decode(data, weights=weights), t1


def decoded(codec: str, q: float, im: Image.Image) -> Image.Image:
    """What ``codec`` at setting ``q`` decodes ``im`` to (the bytes of the benchmark, decoded)."""
    return code(codec, q, im)[1]
