"""Fast CPU inference of the decoder's networks, with pixels that do not depend on the thread count.

Why: PyTorch sends a convolution to oneDNN or to its own im2col + GEMM kernels depending on its size, and to
oneDNN's backward-data kernels when it is transposed; the GEMM sums and oneDNN's transposed sums depend on the
thread count (``bench/thread_invariance.py``, ``bench/results/thread_invariance.json``). oneDNN's forward
convolutions split the work over outputs only, so every output is summed in the same order at any thread count
(measured at 1-4 threads, tiny to 5000-pixel-wide shapes, single images and batches). Here every layer is one of
those, called directly so that size never picks another kernel:

- a transposed convolution (kernel 5, stride 2: every one in these models) becomes a stride-1 3x3 convolution
  with four times the output channels followed by ``pixel_shuffle`` (a sub-pixel convolution: the same products,
  summed in another order, so pixels move by float rounding only);
- GDN's 1x1 convolution is called the same way; tensors and weights are channels-last, oneDNN's fast layout.

On 2 cores this synthesis runs in about half the time of the native kernels. Where oneDNN is missing (or on a
GPU) the plain modules run instead.

Networks that are not a plain ``Sequential`` (residual and attention blocks) run their own ``forward`` under
``onednn_convolutions``, which sends every convolution they make to the same forward kernel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..coding.fixedpoint import subpixel_kernel
from ..models.gdn import GDN


def available(device: torch.device) -> bool:
    return device.type == "cpu" and torch.backends.mkldnn.is_available()


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int = 1, padding: int = 0) -> Tensor:
    """A convolution on oneDNN's forward kernel whatever its size (channels-last in and out)."""
    return torch.ops.aten.mkldnn_convolution(x.contiguous(memory_format=torch.channels_last), weight, bias,
                                             [padding, padding], [stride, stride], [1, 1], 1)


def channels_last(w: Tensor) -> Tensor:
    return w.detach().float().contiguous(memory_format=torch.channels_last)


def subpixel_weight(d: nn.ConvTranspose2d) -> tuple[Tensor, Tensor]:
    """ConvTranspose2d(k=5, stride=2, padding=2, output_padding=1) -> weight and bias of the stride-1 3x3
    convolution whose ``pixel_shuffle(., 2)`` equals it (``aecodec.coding.fixedpoint.subpixel_kernel``)."""
    bias = d.bias.detach() if d.bias is not None else torch.zeros(d.weight.shape[1])
    return channels_last(subpixel_kernel(d.weight.detach())), bias.float().repeat_interleave(4)


def supported(seq: nn.Sequential) -> bool:
    """Whether every layer of ``seq`` has a fast form here."""
    def ok(m: nn.Module) -> bool:
        if isinstance(m, nn.ConvTranspose2d):
            return (m.kernel_size, m.stride, m.padding, m.output_padding, m.groups, m.dilation) == \
                ((5, 5), (2, 2), (2, 2), (1, 1), 1, (1, 1))
        if isinstance(m, nn.Conv2d):
            return m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros" and \
                m.stride[0] == m.stride[1] and m.padding[0] == m.padding[1]
        return isinstance(m, (GDN, nn.ReLU, nn.LeakyReLU))
    return all(ok(m) for m in seq)


def tree_supported(module: nn.Module) -> bool:
    """Whether ``module`` can run under ``onednn_convolutions``: its only parametrised layers are plain
    convolutions and GDNs (no transposed convolution, whose sums would depend on the thread count)."""
    def ok(m: nn.Module) -> bool:
        if isinstance(m, nn.Conv2d):
            return supported(nn.Sequential(m))
        return isinstance(m, GDN) or not any(True for _ in m.parameters(recurse=False))
    return all(ok(m) for m in module.modules())


class onednn_convolutions(TorchFunctionMode):
    """Within this context every ``conv2d`` with one group and no dilation runs on oneDNN's forward kernel
    (``conv2d``), whatever module makes it."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv2d or func is torch.conv2d:
            x, weight, bias, stride, padding, dilation, groups = _conv_args(*args, **kwargs)
            if groups == 1 and _pair(dilation) == (1, 1) and not isinstance(padding, str) \
                    and len(set(_pair(stride))) == 1 and len(set(_pair(padding))) == 1:
                return conv2d(x, weight, bias, _pair(stride)[0], _pair(padding)[0])
        return func(*args, **kwargs)


def _conv_args(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # F.conv2d's signature
    return input, weight, bias, stride, padding, dilation, groups


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class FastSequential:
    """A frozen copy of a ``Sequential`` of convolutions, transposed convolutions (k5 s2), GDN/IGDN and
    (Leaky)ReLUs, run on oneDNN's forward kernels only. Built once per loaded codec."""

    def __init__(self, seq: nn.Sequential):
        if not supported(seq):
            raise ValueError("a layer without a fast form")
        self.steps = []
        for m in seq:
            if isinstance(m, nn.ConvTranspose2d):
                self.steps.append(("subpixel", *subpixel_weight(m)))
            elif isinstance(m, nn.Conv2d):
                bias = m.bias.detach().float() if m.bias is not None else None
                self.steps.append(("conv", channels_last(m.weight), bias, m.stride[0], m.padding[0]))
            elif isinstance(m, GDN):
                c = m.gamma.shape[0]
                gamma = m.gamma_reparam(m.gamma).reshape(c, c, 1, 1)
                self.steps.append(("igdn" if m.inverse else "gdn", channels_last(gamma),
                                   m.beta_reparam(m.beta).detach().float()))
            elif isinstance(m, nn.LeakyReLU):
                self.steps.append(("leaky", m.negative_slope))
            else:
                self.steps.append(("relu",))

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        x = x.float().contiguous(memory_format=torch.channels_last)
        for kind, *p in self.steps:
            if kind == "subpixel":
                x = F.pixel_shuffle(conv2d(x, p[0], p[1], 1, 1), 2)
            elif kind == "conv":
                x = conv2d(x, *p)
            elif kind in ("gdn", "igdn"):
                norm = conv2d(x * x, p[0], p[1])
                x = x * (torch.sqrt(norm) if kind == "igdn" else torch.rsqrt(norm))
            elif kind == "leaky":
                x = F.leaky_relu(x, p[0])
            else:
                x = torch.relu(x)
        return x.contiguous()
