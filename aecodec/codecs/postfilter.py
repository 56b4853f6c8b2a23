"""Post-filtered codecs: a base codec's parts with an enhancement filter after its synthesis.

The base codec's encoder, hyper path, context model and tables are used as they are, so a file holds exactly
the base codec's symbols (the same entropy-coded bytes; only the header's codec id and weights hash differ) and
parsing is untouched: only pixels change. The weights file holds the fp16 filter and pins the base codec's
weights file by its SHA-256. Every filter of this family is a weights variant of one architecture.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ModelMismatchError
from ..format.container import QUALITY_STEPS
from ..models.postfilter import PostFilter, PostFilterConfig
from . import inference, weights_file
from .composed import ComposedCodec


class PostFilterStage:
    """``aecodec.codecs.composed.PostProcess`` running a ``PostFilter`` at the quality's level, on oneDNN's
    thread-invariant kernels when the synthesis runs on them."""

    def __init__(self, post_filter: PostFilter, device: torch.device):
        self.filter = post_filter.eval().to(device, memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, x: Tensor, quality16: int, fast: bool) -> Tensor:
        level = torch.full((x.shape[0],), (quality16 - QUALITY_STEPS) / QUALITY_STEPS, device=x.device)
        return self.filter(x, level, inference.conv2d if fast else F.conv2d)


def export(post_filter: PostFilter, base_hash: str, path: Path, provenance: dict | None = None) -> Path:
    """A trained filter -> its weights file: fp16 parameters, config, and the SHA-256 (hex) of the base codec's
    weights file."""
    meta = {"family": "postfilter", "config": json.dumps(post_filter.config.to_dict()), "base_sha256": base_hash}
    return weights_file.write(path, weights_file.half(post_filter.state_dict()), meta, provenance)


def read_filter(path: Path) -> PostFilter:
    """Weights file -> the float filter it holds."""
    meta = weights_file.weights_metadata(path)
    post_filter = PostFilter(PostFilterConfig.from_dict(json.loads(meta["config"])))
    try:
        post_filter.load_state_dict({k: v.float() for k, v in weights_file.read_tensors(path).items()})
    except RuntimeError as e:
        raise ModelMismatchError(f"{path.name} does not fit its post-filter config") from e
    return post_filter


def load(path: Path, device: str, base: ComposedCodec) -> ComposedCodec:
    """Weights file -> the loaded base codec's parts with the filter after its synthesis (the base itself is
    not changed)."""
    post_filter = read_filter(path)
    if post_filter.config.levels != base.levels:
        raise ModelMismatchError(f"{path.name} filters {post_filter.config.levels} levels, its base codec has "
                                 f"{base.levels}")
    return base.with_post(PostFilterStage(post_filter, base.device))
