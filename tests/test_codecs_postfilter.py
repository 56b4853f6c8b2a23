"""hyperprior-ctx-pf: the base codec's symbols, filtered pixels; loading it leaves the base untouched."""
import numpy as np
import pytest
import torch

import aecodec
from aecodec.codecs.postfilter import export
from aecodec.codecs.weights_file import file_hash
from aecodec.errors import ModelMismatchError
from aecodec.format import container
from aecodec.models.postfilter import PostFilter, PostFilterConfig


def _brightening(tmp_path, base_hash: str | None = None, levels: int = 10):
    """A filter that adds 0.02 (about 5 grey levels) to every pixel: visible, and easy to check."""
    f = PostFilter(PostFilterConfig(levels=levels, channels=8, layers=3))
    with torch.no_grad():
        f.tail.bias.fill_(0.02)
    base_hash = base_hash or file_hash(aecodec.get_codec("hyperprior-ctx").weights_path).hex()
    return export(f, base_hash, tmp_path / "pf.safetensors")


def test_same_symbols_as_the_base_and_filtered_pixels(tmp_path, sample_path):
    w = _brightening(tmp_path)
    data = aecodec.encode(sample_path, codec="hyperprior-ctx-pf", quality=3, weights=w)
    base = aecodec.encode(sample_path, codec="hyperprior-ctx", quality=3)
    assert container.unpack(data).streams[:2] == container.unpack(base).streams[:2]  # z, y: same bytes
    assert aecodec.inspect(data, weights=w).codec == "hyperprior-ctx-pf"
    theirs = np.asarray(aecodec.decode(base), dtype=int)
    mine = np.asarray(aecodec.decode(data, weights=w), dtype=int)
    assert 4 <= (mine - theirs).mean() <= 5.2  # 0.02 * 255 = 5.1, less where 255 clips
    assert np.array_equal(np.asarray(aecodec.decode(base), dtype=int), theirs)  # the base was not modified


def test_refuses_weights_made_for_another_base(tmp_path):
    w = _brightening(tmp_path, "00" * 32)
    with pytest.raises(ModelMismatchError, match="trained for other"):
        aecodec.load("hyperprior-ctx-pf", weights=w)


def test_refuses_a_filter_for_another_number_of_levels(tmp_path):
    with pytest.raises(ModelMismatchError, match="levels"):
        aecodec.load("hyperprior-ctx-pf", weights=_brightening(tmp_path, levels=5))


def test_a_new_filter_is_a_weights_variant_without_a_codec_id_of_its_own(tmp_path, sample_path):
    """A new filter file is used with --weights and, once registered, by name and by hash alone; its files
    record the post-filter architecture's id (no new id), and the registry's code is untouched."""
    from click.testing import CliRunner

    from aecodec.cli.main import main
    from aecodec.registry import ARCHITECTURES, CODECS, CodecInfo, register

    w = _brightening(tmp_path)
    out = tmp_path / "x.aec"
    r = CliRunner().invoke(main, ["encode", str(sample_path), "-o", str(out), "-q", "3", "--weights", str(w)])
    assert r.exit_code == 0, r.output
    c = container.unpack(out.read_bytes())
    assert c.codec_id == ARCHITECTURES["postfilter"].codec_id == 6 and c.weights_hash == file_hash(w)[:8]
    r = CliRunner().invoke(main, ["decode", str(out), "-o", str(tmp_path / "a.png"), "--weights", str(w)])
    assert r.exit_code == 0, r.output
    with pytest.raises(ModelMismatchError, match="--weights"):  # not yet known by its hash
        aecodec.decode(out.read_bytes())
    register(CodecInfo("my-filter", "postfilter", str(w), "a filter trained here", base="hyperprior-ctx"))
    try:
        by_hash = aecodec.decode(out.read_bytes())  # the recorded hash selects the variant
        assert np.array_equal(np.asarray(by_hash), np.asarray(aecodec.decode(out.read_bytes(), weights=w)))
        named = aecodec.encode(sample_path, codec="my-filter", quality=3)
        assert named == out.read_bytes() and aecodec.inspect(named).codec == "my-filter"
    finally:
        CODECS.remove(next(v for v in CODECS if v.name == "my-filter"))
