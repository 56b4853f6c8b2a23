"""CompressAI models as aecodec codecs, with parsing that is exact on every machine.

CompressAI computes the entropy parameters of its hyperprior models with float convolutions, so a decoder on
another machine (GPU vs CPU, another thread count) can pick another CDF for a symbol and decode garbage.
``import_compressai`` turns a CompressAI state_dict of any architecture in ``ARCHS`` (any N and M) into an
aecodec weights file:

- the transforms (``g_a``, ``g_s``, ``h_a``) as fp32, run as the same modules as CompressAI's, so pixels are
  CompressAI's;
- the hyper-synthesis ``h_s``, and for the autoregressive models (mbt2018, cheng2020) the masked context
  convolution and the entropy-parameter network, as fixed-point integers (``aecodec.coding.fixedpoint``),
  evaluated exactly;
- CompressAI's own quantized CDF tables (from its ``update()``), the bottleneck medians and the scale
  thresholds, all as integers.

Coding follows CompressAI's ``compress``/``decompress`` (symbols are offsets from the medians and the means,
scale indexes from the same 64-scale table, the same rANS), so files come out at CompressAI's size. The
differences: every number parsing depends on is an integer, and the autoregressive models code their latents
in wavefronts (``aecodec.codecs.autoregressive``) rather than one position at a time. The file records the source
checkpoint's SHA-256, the architecture and N, M.
"""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path

import torch
from torch import Tensor, nn

from ..coding.fixedpoint import FRAC_A, IntContextModel, IntHyperSynthesis, to_fixed
from ..coding.rans import RansCoder
from ..coding.tables import CdfTable, table_from_tensors, table_tensors
from ..errors import ModelMismatchError
from ..models import hyperprior, residual
from . import weights_file
from .autoregressive import WavefrontPass
from .composed import ComposedCodec
from .compressai_archs import ARCHS, CompressAIArch
from .gains import UnitGains
from .latents import FactorizedLatents, GaussianLatents, HyperPath
from .loading import load_parameters
from .transforms import Transforms

_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")  # update() results: recomputed here


def _network(arch: str, N: int, M: int) -> nn.Module:
    from compressai import models

    cls = getattr(models, ARCHS[arch].compressai_class)
    return cls(N) if ARCHS[arch].residual else cls(N, M)


def _modules(spec: CompressAIArch, N: int, M: int) -> nn.Module:
    """This project's modules with CompressAI's names for an architecture's float parts: g_a, g_s (and h_a)."""
    model = nn.Module()
    if spec.residual:
        model.g_a, model.g_s = residual.analysis(N, spec.attention), residual.synthesis(N, spec.attention)
    else:
        model.g_a, model.g_s = hyperprior.analysis(N, M), hyperprior.synthesis(N, M)
    if spec.layout:
        activation = nn.LeakyReLU if spec.leaky else nn.ReLU
        model.h_a = residual.hyper_analysis(N) if spec.residual else hyperprior.hyper_analysis(N, M, activation)
    return model


def _state_dict(obj) -> dict[str, Tensor]:
    """A state_dict as saved by ``torch.save(net.state_dict())``, or inside a training checkpoint of
    CompressAI's example script (``{"state_dict": ...}``); DataParallel's ``module.`` prefix removed."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ModelMismatchError("not a CompressAI state_dict (expected a dict of tensors, or one under "
                                 "'state_dict')")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def read_checkpoint(path: Path, arch: str) -> tuple[nn.Module, bytes]:
    """Checkpoint file -> (the CompressAI network of ``arch`` with its weights, the file's SHA-256). Tensors
    only: the file is read with ``weights_only``, so a checkpoint cannot run code."""
    if arch not in ARCHS:
        raise ModelMismatchError(f"unknown architecture {arch!r} (importable: {', '.join(ARCHS)})")
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelMismatchError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as e:
        raise ModelMismatchError(f"{Path(path).name} is not a readable PyTorch checkpoint "
                                 f"({str(e).splitlines()[0][:80]})") from e
    state = {k: v for k, v in _state_dict(obj).items() if not k.endswith(_BUFFERS)}
    first = state.get("g_a.0.weight", state.get("g_a.0.conv1.weight"))  # a convolution; a residual block
    if first is None or first.dim() != 4:
        raise ModelMismatchError(f"{Path(path).name} has no g_a of a CompressAI image model")
    N = first.shape[0]
    M = state["g_a.6.weight"].shape[0] if state.get("g_a.6.weight", torch.empty(0)).dim() == 4 else N
    net = _network(arch, N, M)
    want = {k for k in net.state_dict() if not k.endswith(_BUFFERS)}
    missing, unexpected = sorted(want - state.keys()), sorted(state.keys() - want)
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise ModelMismatchError(f"{Path(path).name} is not a {arch} checkpoint ({what}, "
                                 f"{len(missing)} missing and {len(unexpected)} unexpected tensors)")
    shapes = net.state_dict()
    wrong = [k for k in sorted(want) if state[k].shape != shapes[k].shape]
    if wrong:
        raise ModelMismatchError(f"{Path(path).name} is not a {arch} checkpoint ({wrong[0]} has shape "
                                 f"{tuple(state[wrong[0]].shape)}, {arch}(N={N}, M={M}) needs "
                                 f"{tuple(shapes[wrong[0]].shape)})")
    # nn.Module's loader: CompressAI's own insists on the update() buffers, which need not be there
    nn.Module.load_state_dict(net, state, strict=False)
    return net.eval(), hashlib.sha256(data).digest()


def _table(model) -> CdfTable:
    """A CompressAI entropy model's quantized CDFs, as computed by its ``update()``."""
    return CdfTable(model._quantized_cdf.int(), model._cdf_length.int(), model._offset.int())


def _store(build, what: str, prefix: str, key: str, checkpoint: Path, tensors: dict, meta: dict) -> None:
    """Add an integer network (``build()``) to a weights file's tensors, and its layer specs to ``meta[key]``;
    one that has no exact integer form is refused."""
    try:
        part = build()
    except ValueError as e:
        raise ModelMismatchError(f"{Path(checkpoint).name}: its {what} has no exact integer form ({e})") from e
    layers, specs = part.tensors(prefix)
    tensors.update(layers)
    meta[key] = json.dumps(specs)


def import_compressai(checkpoint: Path, arch: str, out: Path) -> Path:
    """CompressAI checkpoint -> aecodec weights file at ``out`` for the codec ``arch`` becomes. Refuses
    (``ModelMismatchError``) what it cannot import exactly: an unreadable or other-architecture checkpoint, or a
    hyper-synthesis or context model whose integer form could overflow."""
    net, source = read_checkpoint(checkpoint, arch)
    net.update(force=True)  # CompressAI's own tables, from the checkpoint's quantiles and its scale table
    eb = net.entropy_bottleneck
    tensors = {k: v.float().contiguous() for k, v in net.state_dict().items()
               if k.startswith(("g_a.", "g_s.", "h_a."))}
    tensors["fixed.medians"] = to_fixed(eb.quantiles[:, 0, 1], FRAC_A)
    tensors.update(table_tensors("table.bottleneck", _table(eb)))
    meta = {"family": "compressai", "codec": ARCHS[arch].codec, "arch": arch, "N": str(net.N), "M": str(net.M),
            "source_sha256": source.hex(), "source_name": Path(checkpoint).name}
    if ARCHS[arch].layout:
        _store(lambda: IntHyperSynthesis(net.h_s), "hyper-synthesis", "fixed.h_s", "h_s", checkpoint, tensors, meta)
        gc = net.gaussian_conditional
        tensors["fixed.scale_bounds"] = to_fixed(gc.scale_table[:-1], FRAC_A)
        tensors.update(table_tensors("table.y", _table(gc)))
    if ARCHS[arch].layout == "features":
        cp = net.context_prediction
        _store(lambda: IntContextModel.from_modules(cp, cp.mask, net.entropy_parameters), "context model",
               "fixed.context", "context", checkpoint, tensors, meta)
    provenance = {"imported_from": Path(checkpoint).name, "source_sha256": source.hex(), "arch": arch,
                  "N": int(meta["N"]), "M": int(meta["M"]),
                  "command": f"aecodec import compressai {Path(checkpoint).name} --arch {arch} -o {Path(out).name}"}
    return weights_file.write(Path(out), tensors, meta, provenance)


def load(path: Path, device: str = "cpu") -> ComposedCodec:
    """Imported weights file -> a ready codec (one quality: CompressAI's models are single-rate), assembled
    from this project's parts: the transforms rebuilt with its own layers (the same modules and names as
    CompressAI's, so decoding loads no CompressAI), the hyper path in integers under CompressAI's tables."""
    meta = weights_file.weights_metadata(path)
    tensors = weights_file.read_tensors(path)
    arch = meta.get("arch", "")
    if arch not in ARCHS:
        raise ModelMismatchError(f"{Path(path).name}: unknown CompressAI architecture {arch!r}")
    N, M = int(meta["N"]), int(meta["M"])
    device = torch.device(device)
    spec = ARCHS[arch]
    model = _modules(spec, N, M)
    float_params = {k: v.float() for k, v in tensors.items() if k.startswith(("g_a.", "g_s.", "h_a."))}
    load_parameters(model, float_params, f"{Path(path).name} does not fit {arch}")
    model.eval()
    medians = tensors["fixed.medians"]  # FRAC_A fixed point
    bottleneck = table_from_tensors("table.bottleneck", tensors)  # z's tables, or y's (factorized)
    if not spec.layout:
        latents = FactorizedLatents(medians, bottleneck)
    else:
        try:
            h_s = IntHyperSynthesis.from_tensors("fixed.h_s", tensors, json.loads(meta["h_s"]))
            context = (IntContextModel.from_tensors("fixed.context", tensors, json.loads(meta["context"]))
                       if spec.layout == "features" else None)
        except (ValueError, KeyError) as e:
            raise ModelMismatchError(f"{Path(path).name}: integer entropy model out of range or missing "
                                     f"({e})") from e
        hyper = HyperPath(model.h_a.to(device), h_s, bottleneck, tensors["fixed.scale_bounds"],
                          UnitGains(M, N, device), medians, spec.layout, spec.abs_input)
        latents = GaussianLatents(hyper, RansCoder(table_from_tensors("table.y", tensors)),
                                  WavefrontPass(context, hyper) if context is not None else None)
    return ComposedCodec(Transforms(model.g_a, model.g_s, device), latents, model=model, levels=1)
