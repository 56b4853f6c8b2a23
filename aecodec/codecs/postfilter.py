"""A codec whose decoder adds an enhancement filter after the synthesis of its base codec.

The base codec's encoder, hyper path, context model and tables are used as they are, so a file holds exactly
the base codec's symbols (the same entropy-coded bytes; only the header's codec id and weights hash differ) and
parsing is untouched: only pixels change. The weights file holds the fp16 filter and pins the base codec's
weights file by its SHA-256.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from ..errors import ModelMismatchError
from ..models.postfilter import PostFilter, PostFilterConfig
from . import weights
from .hyperprior import HyperpriorCodec


def export(post_filter: PostFilter, base_hash: str, path: Path, provenance: dict | None = None) -> Path:
    """A trained filter -> its weights file: fp16 parameters, config, and the SHA-256 (hex) of the base codec's
    weights file."""
    meta = {"family": "postfilter", "config": json.dumps(post_filter.config.to_dict()), "base_sha256": base_hash}
    return weights.write(path, weights.half(post_filter.state_dict()), meta, provenance)


def load(path: Path, device: str, base: HyperpriorCodec) -> HyperpriorCodec:
    """Weights file -> the base codec (loaded, its hash checked by the registry) with the filter after its
    synthesis; the base itself stays unfiltered."""
    meta = weights.weights_metadata(path)
    post_filter = PostFilter(PostFilterConfig.from_dict(json.loads(meta["config"])))
    try:
        post_filter.load_state_dict({k: v.float() for k, v in weights.read_tensors(path).items()})
    except RuntimeError as e:
        raise ModelMismatchError(f"{path.name} does not fit its post-filter config") from e
    if post_filter.config.levels != base.levels:
        raise ModelMismatchError(f"{path.name} filters {post_filter.config.levels} levels, its base codec has "
                                 f"{base.levels}")
    codec = copy.copy(base)
    codec.post_filter = post_filter.eval().to(codec.device, memory_format=torch.channels_last)
    return codec
