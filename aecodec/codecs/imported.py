"""CompressAI models as aecodec codecs, with parsing that is exact on every machine.

CompressAI computes the entropy parameters of its hyperprior models with float convolutions, so a decoder on
another machine (GPU vs CPU, another thread count) can pick another CDF for a symbol and decode garbage (its
issues 235, 279, 309, 320). ``import_compressai`` turns a CompressAI state_dict of ``bmshj2018-factorized``,
``bmshj2018-hyperprior`` or ``mbt2018-mean`` (any N and M) into an aecodec weights file:

- the transforms (``g_a``, ``g_s``, ``h_a``) as fp32, CompressAI's own modules, so pixels are CompressAI's;
- the hyper-synthesis ``h_s`` as fixed-point integers (``aecodec.coding.fixedpoint``), evaluated exactly;
- CompressAI's own quantized CDF tables (from its ``update()``), the bottleneck medians and the scale
  thresholds, all as integers.

Coding follows CompressAI's ``compress``/``decompress`` step for step (symbols are offsets from the medians and
the means, scale indexes from the same 64-scale table, the same rANS), so files come out at CompressAI's size;
the only difference is that every number parsing depends on is an integer. The file records the source
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

from ..coding.fixedpoint import FRAC_A, IntHyperSynthesis, to_fixed
from ..coding.rans import RansCoder
from ..coding.tables import CdfTable, table_from_tensors, table_tensors
from ..contract import Coded
from ..errors import FormatError, ModelMismatchError
from ..registry import COMPRESSAI_ARCHS
from . import inference, weights
from .hyperprior import HyperpriorCodec, crop_latent, thread_invariant

# architecture -> CompressAI's class (the registry maps each to its aecodec codec)
CLASSES = {"bmshj2018-factorized": "FactorizedPrior", "bmshj2018-hyperprior": "ScaleHyperprior",
           "mbt2018-mean": "MeanScaleHyperprior"}
_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")  # update() results: recomputed here


def _network(arch: str, N: int, M: int) -> nn.Module:
    from compressai import models

    return getattr(models, CLASSES[arch])(N, M)


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
    if arch not in CLASSES:
        raise ModelMismatchError(f"unknown architecture {arch!r} (importable: {', '.join(CLASSES)})")
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
    try:
        N, M = state["g_a.0.weight"].shape[0], state["g_a.6.weight"].shape[0]
    except (KeyError, IndexError) as e:
        raise ModelMismatchError(f"{Path(path).name} has no g_a of a CompressAI image model") from e
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


def import_compressai(checkpoint: Path, arch: str, out: Path) -> Path:
    """CompressAI checkpoint -> aecodec weights file at ``out``. Refuses (``ModelMismatchError``) what it cannot
    import exactly: an unreadable or other-architecture checkpoint, or a hyper-synthesis whose integer form could
    overflow."""
    net, source = read_checkpoint(checkpoint, arch)
    net.update(force=True)  # CompressAI's own tables, from the checkpoint's quantiles and its scale table
    eb = net.entropy_bottleneck
    tensors = {k: v.float().contiguous() for k, v in net.state_dict().items()
               if k.startswith(("g_a.", "g_s.", "h_a."))}
    tensors["fixed.medians"] = to_fixed(eb.quantiles[:, 0, 1], FRAC_A)
    tensors.update(table_tensors("table.bottleneck", _table(eb)))
    meta = {"family": "compressai", "codec": COMPRESSAI_ARCHS[arch], "arch": arch, "N": str(net.g_a[0].out_channels),
            "M": str(net.g_a[6].out_channels), "source_sha256": source.hex(), "source_name": Path(checkpoint).name}
    if arch != "bmshj2018-factorized":
        try:
            h_s = IntHyperSynthesis(net.h_s)
        except ValueError as e:
            raise ModelMismatchError(f"{Path(checkpoint).name}: its hyper-synthesis has no exact integer form "
                                     f"({e})") from e
        layers, specs = h_s.tensors("fixed.h_s")
        tensors.update(layers)
        meta["h_s"] = json.dumps(specs)
        gc = net.gaussian_conditional
        tensors["fixed.scale_bounds"] = to_fixed(gc.scale_table[:-1], FRAC_A)
        tensors.update(table_tensors("table.y", _table(gc)))
    provenance = {"imported_from": Path(checkpoint).name, "source_sha256": source.hex(), "arch": arch,
                  "N": int(meta["N"]), "M": int(meta["M"]),
                  "command": f"aecodec import compressai {Path(checkpoint).name} --arch {arch} -o {Path(out).name}"}
    return weights.write(Path(out), tensors, meta, provenance)


class ImportedCodec:
    """A CompressAI model loaded from an imported weights file. Implements ``aecodec.contract.ImageCodec``
    (one quality: CompressAI's models are single-rate)."""

    levels = 1

    def __init__(self, path: Path, device: str = "cpu"):
        meta = weights.weights_metadata(path)
        tensors = weights.read_tensors(path)
        self.arch, self.device = meta["arch"], torch.device(device)
        self.source_sha256 = meta.get("source_sha256", "")
        self.model = _network(self.arch, int(meta["N"]), int(meta["M"]))
        float_params = {k: v.float() for k, v in tensors.items() if k.startswith(("g_a.", "g_s.", "h_a."))}
        missing, unexpected = nn.Module.load_state_dict(self.model, float_params, strict=False)
        transforms = [k for k in missing if k.startswith(("g_a.", "g_s.", "h_a."))]
        if transforms or unexpected:
            raise ModelMismatchError(f"{Path(path).name} does not fit {self.arch}: {transforms or unexpected}")
        self.model.eval().to(self.device)
        fast = inference.available(self.device)  # same pixels at any thread count, faster (codecs.inference)
        self._fast_g_a = inference.FastSequential(self.model.g_a) if fast else None
        self._fast_g_s = inference.FastSequential(self.model.g_s) if fast else None
        self.medians = tensors["fixed.medians"].long()  # [C], FRAC_A fixed point
        self.bottleneck_coder = RansCoder(table_from_tensors("table.bottleneck", tensors))  # z, or y (factorized)
        self.factorized = self.arch == "bmshj2018-factorized"
        if not self.factorized:
            try:
                self.h_s = IntHyperSynthesis.from_tensors("fixed.h_s", tensors, json.loads(meta["h_s"]))
            except ValueError as e:
                raise ModelMismatchError(f"{Path(path).name}: integer hyper-synthesis out of range ({e})") from e
            self.scale_bounds = tensors["fixed.scale_bounds"].long()
            self.y_coder = RansCoder(table_from_tensors("table.y", tensors))
            self.means = self.arch == "mbt2018-mean"

    @property
    def stride(self) -> int:
        return 16 if self.factorized else 64

    digest = staticmethod(HyperpriorCodec.digest)

    def _median_symbols(self, v: Tensor) -> Tensor:
        """Float [1, C, h, w] -> integers coded under the per-channel tables: offsets from the medians."""
        return torch.round(v.cpu().to(torch.float64) - self.medians.view(1, -1, 1, 1) / (1 << FRAC_A)).long()

    def _channel_indexes(self, shape: torch.Size) -> Tensor:
        return torch.arange(shape[1]).view(1, -1, 1, 1).expand(shape)

    def _parameters(self, z_symbols: Tensor) -> tuple[Tensor, Tensor]:
        """z symbols -> (scale table indexes, means in FRAC_A fixed point) of the latent, in integers only."""
        z_hat = z_symbols * (1 << FRAC_A) + self.medians.view(1, -1, 1, 1)
        params = self.h_s(z_hat)
        scales, means = params.chunk(2, 1) if self.means else (params, torch.zeros_like(params))
        idx = torch.searchsorted(self.scale_bounds, scales.reshape(-1).contiguous()).reshape(scales.shape)
        return idx, means

    @torch.no_grad()
    def compress_batch(self, x: Tensor, q16: int, effort: int = 0,
                       crop: tuple[int, int, int, int] | None = None) -> list[Coded]:
        if effort:
            raise ValueError("imported CompressAI models take no encoder effort")
        m = self.model
        x = x.to(self.device)
        y = self._fast_g_a(x) if self._fast_g_a is not None else m.g_a(x)
        if crop is not None:
            x, y = crop_latent(x, y, crop)
        z = None if self.factorized else m.h_a(y.abs() if self.arch == "bmshj2018-hyperprior" else y)
        out = []
        for b in range(x.shape[0]):
            if self.factorized:
                s = self._median_symbols(y[b:b + 1])
                out.append(Coded([self.bottleneck_coder.encode(s, self._channel_indexes(s.shape))], (self.digest(s),)))
                continue
            zs = self._median_symbols(z[b:b + 1])
            idx, means = self._parameters(zs)
            ys = torch.round(y[b:b + 1].cpu().to(torch.float64) - means.to(torch.float64) / (1 << FRAC_A)).long()
            out.append(Coded([self.bottleneck_coder.encode(zs, self._channel_indexes(zs.shape)), self.y_coder.encode(ys, idx)],
                             (self.digest(zs), self.digest(ys))))
        return out

    def _parse(self, item: Coded, height: int, width: int) -> Tensor:
        """One image's streams -> its decoded latent y_hat (float64), every symbol checked."""
        streams, digests = item
        m_shape = (1, self.model.g_s[0].in_channels, height // 16, width // 16)
        if self.factorized:
            s = self.bottleneck_coder.decode(streams[0], self._channel_indexes(torch.Size(m_shape)))
            if self.digest(s) != digests[0]:
                raise FormatError("corrupted .aec payload: latent symbols fail their check")
            return s.to(torch.float64) + self.medians.view(1, -1, 1, 1).to(torch.float64) / (1 << FRAC_A)
        n = self.medians.numel()
        zs = self.bottleneck_coder.decode(streams[0], self._channel_indexes(torch.Size((1, n, height // 64, width // 64))))
        if self.digest(zs) != digests[0]:
            raise FormatError("corrupted .aec payload: hyper-latent symbols fail their check")
        idx, means = self._parameters(zs)
        ys = self.y_coder.decode(streams[1], idx)
        if self.digest(ys) != digests[1]:
            raise FormatError("corrupted .aec payload: latent symbols fail their check")
        return ys.to(torch.float64) + means.to(torch.float64) / (1 << FRAC_A)

    @torch.no_grad()
    def decompress_batch(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        return self.synthesize(self.decode_latents(items, height, width, q16), q16)

    def decode_latents(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        return torch.cat([self._parse(item, height, width) for item in items])

    @torch.no_grad()
    def synthesize(self, y_hat: Tensor, q16: int) -> Tensor:
        y_hat = y_hat.float().to(self.device)
        if self._fast_g_s is not None:
            return self._fast_g_s(y_hat).clamp_(0, 1)
        with thread_invariant():
            return self.model.g_s(y_hat).clamp_(0, 1)


def load(path: Path, device: str = "cpu") -> ImportedCodec:
    """Imported weights file -> a ready ``ImportedCodec``."""
    return ImportedCodec(path, device)
