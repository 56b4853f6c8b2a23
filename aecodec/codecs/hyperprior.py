"""The hyperprior codec family: weights files of ``aecodec.models.hyperprior.Hyperprior`` <-> assembled codecs.

Parsing depends only on integers: z symbols, the integer hyper-synthesis (``aecodec.coding.fixedpoint``), integer
gains and stored CDF tables. Floats touch only the analysis transform (the encoder's choice of symbols) and the
synthesis transform (pixels). The coding path reads the transforms and those integers; the float entropy models
in the same file are read only for training and encoder refinement.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from ..coding.fixedpoint import FRAC_A, FRAC_G, IntHyperSynthesis, to_fixed
from ..coding.rans import RansCoder
from ..coding.tables import bottleneck_tables, gaussian_tables, scale_table, table_from_tensors, table_tensors
from ..models.hyperprior import Hyperprior, HyperpriorConfig
from . import weights_file
from .composed import ComposedCodec
from .gains import Gains
from .latents import GaussianLatents, HyperPath
from .loading import load_parameters
from .refine import Refiner
from .transforms import Transforms


def export(state: dict[str, Tensor], config: HyperpriorConfig, path: Path, provenance: dict | None = None,
           codec: str | None = None) -> Path:
    """Write a trained model as a weights file: fp16 parameters, then everything the decoder needs to parse
    (fixed-point gains, scale thresholds, CDF tables) computed once, here, and stored as integers. ``codec``
    names the registered codec the file is for (``hyperprior``, ``hyperprior-msssim``)."""
    model = Hyperprior(config)
    model.load_state_dict(state)
    params = weights_file.half(dict(model.named_parameters()))
    # Rebuild from the fp16 values so that tables, gains and integer layers match what users load.
    model.load_state_dict({k: v.float() for k, v in params.items()}, strict=False)
    IntHyperSynthesis(model.h_s)  # raises if a layer could leave the exact range
    tensors = dict(params)
    tensors["fixed.gain"] = to_fixed(model.log_gain.detach().exp(), FRAC_G).int()
    tensors["fixed.inv_hyper_gain"] = to_fixed(model.log_inv_hyper_gain.detach().exp(), FRAC_A).int()
    tensors["fixed.scale_bounds"] = to_fixed(scale_table()[:-1], FRAC_A).int()
    tensors.update(table_tensors("table.z", bottleneck_tables(model.entropy_bottleneck)))
    tensors.update(table_tensors("table.y", gaussian_tables()))
    meta = {"family": "hyperprior", "config": json.dumps(config.to_dict())}
    if codec:
        meta["codec"] = codec
    return weights_file.write(path, tensors, meta, provenance)


def read_model(path: Path, entropy_models: bool = False) -> Hyperprior:
    """Weights file -> the float model (with CompressAI's entropy models only when asked: training, refinement)."""
    config = HyperpriorConfig.from_dict(json.loads(weights_file.weights_metadata(path)["config"]))
    model = Hyperprior(config, entropy_models)
    tensors = weights_file.read_tensors(path)
    prefixes = ("fixed.", "table.") + (() if entropy_models else ("entropy_bottleneck.",))
    float_params = {k: v.float() for k, v in tensors.items() if not k.startswith(prefixes)}
    load_parameters(model, float_params, f"weights file {path} does not match its config")
    return model.eval()


def load(path: Path, device: str = "cpu") -> ComposedCodec:
    """Weights file -> a ready hyperprior codec: the model's transforms, its exact hyper path, and its latents
    coded under the hyperprior's parameters."""
    device = torch.device(device)
    model = read_model(path)
    tensors = weights_file.read_tensors(path)
    gains = Gains(tensors["fixed.gain"], tensors["fixed.inv_hyper_gain"], model.log_inv_gain,
                  model.log_hyper_gain, model.config.lambdas, device)
    hyper = HyperPath(model.h_a.to(device), IntHyperSynthesis(model.h_s), table_from_tensors("table.z", tensors),
                      tensors["fixed.scale_bounds"], gains, torch.zeros(model.config.N, dtype=torch.int64))
    latents = GaussianLatents(hyper, RansCoder(table_from_tensors("table.y", tensors)))
    refiner = Refiner(lambda: read_model(path, entropy_models=True), gains, device)
    return ComposedCodec(Transforms(model.g_a, model.g_s, device), latents, refiner=refiner, model=model,
                         levels=model.num_levels)
