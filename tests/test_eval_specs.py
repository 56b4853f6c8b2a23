"""The curves a benchmark names: codec, NAME:effortN and weights:FILE specs, refused before any coding."""
import pytest

import aecodec
from aecodec.eval.specs import parse_spec, resolve_codecs, settings


def test_specs_parse_and_bad_ones_are_refused():
    assert parse_spec("hyperprior") == ("hyperprior", 0, None)
    assert parse_spec("hyperprior:effort2") == ("hyperprior", 2, None)
    for bad in ("jpeg:effort1", "hyperprior:fast", "weights:/no/such/file"):
        with pytest.raises(aecodec.UnknownCodecError):
            parse_spec(bad)


def test_a_codec_list_is_checked_whole_and_the_anchor_must_be_in_it():
    chosen, _ = resolve_codecs("jpeg, webp", "jpeg")
    assert chosen == ["jpeg", "webp"] and len(settings("jpeg")) >= 4
    with pytest.raises(aecodec.UnknownCodecError, match="anchor"):
        resolve_codecs("jpeg", "webp")
    with pytest.raises(aecodec.UnknownCodecError, match="unknown"):
        resolve_codecs("jpeg,nope", "jpeg")
    with pytest.raises(aecodec.UnknownCodecError, match="no codec"):
        resolve_codecs(" , ", "jpeg")
