"""Integer hyper-synthesis: the decoder-side path that computes entropy parameters, in exact int64 arithmetic.

Float convolutions give slightly different sums on different machines, thread counts and devices; when those sums
pick the probability table of a symbol, the decoder desynchronises and prints garbage (as CompressAI's decoders do).
Here every value that parsing depends on is an integer: weights are fixed point with ``FRAC_W`` fractional bits,
activations with ``FRAC_A``. Products are summed by float64 matrix multiplication on integers whose every partial
sum stays below 2^53 (checked per layer when it is built): each operation is then exact, so any summation order,
blocking or thread count gives the same bits, and BLAS keeps it fast. The float model is trained as usual; this
module is built from its (fp16-stored) weights at load time, deterministically.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FRAC_W = 14  # weight fractional bits
FRAC_A = 10  # activation fractional bits (also of the predicted means and scales)
FRAC_G = 12  # gain fractional bits
ACT_LIMIT = 1 << 22  # activations are clamped to +-2^12 in real units, which bounds every partial sum
EXACT = 1 << 53  # float64 represents every integer below this exactly


def to_fixed(t: Tensor, frac: int) -> Tensor:
    """Round a float tensor to fixed point. Exact and platform independent for fp16/fp32 inputs: the
    float64 product by a power of two is exact, and round-half-even is IEEE-defined."""
    return torch.round(t.detach().to(torch.float64) * (1 << frac)).to(torch.int64)


def shift_round(x: Tensor, bits: int) -> Tensor:
    """Divide an int64 tensor by 2^bits, rounding half up (arithmetic shift: exact, order free)."""
    return (x + (1 << (bits - 1))) >> bits


LIMB_BITS = 7  # ``ExactMatmul``'s digits: balanced base 128, each in [-64, 63]


def limbs(x: Tensor, count: int = 0) -> Tensor:
    """int64 ``x`` -> its balanced base-128 digits, int8 [L, *x.shape], least significant first: ``x = sum_i
    d_i 128^i`` with every ``d_i`` in [-64, 63]; ``count`` of them (``x`` must fit), or as many as the largest
    ``|x|`` needs (at least one)."""
    half, mask = 1 << (LIMB_BITS - 1), (1 << LIMB_BITS) - 1
    digits = []
    while True:
        d = ((x + half) & mask) - half
        digits.append(d.to(torch.int8))
        x = (x - d) >> LIMB_BITS
        if len(digits) == count or (not count and not x.any()):
            return torch.stack(digits)


ACT_LIMBS = 4  # digits of any activation within +-ACT_LIMIT


class ExactMatmul:
    """``weight @ x`` for an int64 matrix and int64 columns, exact, on int8 products with int32 sums.

    Why: the context models multiply megabytes of weights by a dozen columns per wavefront step, so a step
    costs the time to stream its weights. As float64 (exact below 2^53) that is 8 bytes a weight; here each
    operand is split into balanced base-128 digits (``limbs``), the digit matrices are multiplied by one int8
    GEMM with int32 sums, and the partial products are shifted together in int64: 1-3 bytes a weight, the
    same integers. Digits within [-64, 63] keep every product and every pair of products inside int16 (the
    AVX2 int8 kernels' intermediate), and sums of up to 2^19 such products inside int32, so no kernel on any
    machine can saturate or round: the result is the exact integer product, whatever the thread count."""

    MAX_INNER = 1 << 19  # products of two digits per sum: 2^19 * 2^12 stays below 2^31

    def __init__(self, weight: Tensor):
        self.out_features, self.in_features = weight.shape
        w = limbs(weight)
        self.digits = w.shape[0]
        self.stacked = w.reshape(-1, self.in_features).contiguous()  # [digits * O, K], laid out once
        self.fallback = weight.to(torch.float64) if not self._int8() else None

    def _int8(self) -> bool:
        return hasattr(torch, "_int_mm") and self.in_features <= self.MAX_INNER

    def __call__(self, x: Tensor) -> Tensor:
        """x: int64 [K, n] (every partial sum of ``weight @ x`` below 2^63) -> int64 [O, n]."""
        if self.fallback is not None:
            return (self.fallback @ x.to(torch.float64)).to(torch.int64)
        return self.of_digits(limbs(x).permute(1, 0, 2))

    def of_digits(self, a: Tensor) -> Tensor:
        """``self(x)`` from the digits of ``x`` (``limbs`` along dim 1), int8 [K, La, n]: for callers that
        keep their operands as digits."""
        if self.fallback is not None:
            return self(combine(a.transpose(0, 1)))
        la, n = a.shape[1], a.shape[2]
        cols = a.reshape(self.in_features, la * n)
        if cols.stride() != (la * n, 1):  # a view with one column can carry any stride: _int_mm misreads it
            cols = cols.clone(memory_format=torch.contiguous_format)
        r = torch._int_mm(self.stacked, cols).view(self.digits, self.out_features, la, n)
        shifts = torch.arange(self.digits).view(-1, 1, 1, 1) + torch.arange(la).view(1, 1, -1, 1)
        return (r.to(torch.int64) << (LIMB_BITS * shifts)).sum((0, 2))


def combine(digits: Tensor) -> Tensor:
    """Inverse of ``limbs``: int8 digits [L, ...] -> int64 [...]."""
    shifts = torch.arange(digits.shape[0]).view((-1,) + (1,) * (digits.dim() - 1))
    return (digits.to(torch.int64) << (LIMB_BITS * shifts)).sum(0)


def int_conv2d(x: Tensor, w: Tensor, stride: int, pad: tuple[int, int, int, int]) -> Tensor:
    """Integer 2-D convolution (cross-correlation) of int64 x [1, C, H, W] with int64 w [O, C, k, k].

    Exact when the caller bounds the sums (see ``IntLayer``)."""
    k = w.shape[-1]
    xp = F.pad(x.to(torch.float64), pad)
    cols = F.unfold(xp, k, stride=stride)[0]  # [C*k*k, L]
    out = (w.reshape(w.shape[0], -1).to(torch.float64) @ cols).to(torch.int64)
    h = (xp.shape[2] - k) // stride + 1
    wd = (xp.shape[3] - k) // stride + 1
    return out.reshape(1, w.shape[0], h, wd)


def subpixel_kernel(w: Tensor) -> Tensor:
    """A ConvTranspose2d(k=5, stride=2, padding=2, output_padding=1) weight [C_in, C_out, 5, 5] -> the weight
    [4 C_out, C_in, 3, 3] of the stride-1 convolution (padding 1) whose ``pixel_shuffle(., 2)`` is the same
    transposed convolution: output (2i + a, 2j + b) takes input (i + dy, j + dx) through kernel tap
    (a + 2 - 2 dy, b + 2 - 2 dx). The same products as zero insertion, without the 3/4 of them that are zero."""
    c_in, c_out = w.shape[:2]
    out = torch.zeros(c_out, 2, 2, c_in, 3, 3, dtype=w.dtype)
    for a in range(2):
        for b in range(2):
            for j in range(3):
                for i in range(3):
                    ky, kx = a + 4 - 2 * j, b + 4 - 2 * i
                    if ky <= 4 and kx <= 4:
                        out[:, a, b, :, j, i] = w[:, :, ky, kx].t()
    return out.reshape(4 * c_out, c_in, 3, 3)


def is_subpixel(w: Tensor, stride: int, padding: int, output_padding: int) -> bool:
    """Whether a transposed convolution has the form ``subpixel_kernel`` rewrites."""
    return w.shape[-1] == 5 and (stride, padding, output_padding) == (2, 2, 1)


def int_conv_transpose2d(x: Tensor, w: Tensor, stride: int, padding: int, output_padding: int) -> Tensor:
    """Integer transposed convolution. Kernel 5, stride 2 (every hyper-synthesis here): a sub-pixel
    convolution (``subpixel_kernel``); otherwise zero insertion followed by a convolution with the flipped kernel.
    Exact either way: the same integer products, summed exactly. ``w`` has the layout [C_in, C_out, k, k]."""
    if is_subpixel(w, stride, padding, output_padding):
        return F.pixel_shuffle(int_conv2d(x, subpixel_kernel(w), 1, (1, 1, 1, 1)), 2)
    k = w.shape[-1]
    _, c, h, wd = x.shape
    up = torch.zeros(1, c, (h - 1) * stride + 1, (wd - 1) * stride + 1, dtype=torch.int64)
    up[:, :, ::stride, ::stride] = x
    lo = k - 1 - padding
    hi = lo + output_padding
    return int_conv2d(up, w.flip(2, 3).transpose(0, 1), 1, (lo, hi, lo, hi))


@dataclass
class IntLayer:
    weight: Tensor  # int64, FRAC_W fractional bits
    bias: Tensor  # int64, FRAC_A + FRAC_W fractional bits
    transposed: bool
    stride: int
    padding: int
    output_padding: int
    relu: bool
    slope: int = 0  # with ``relu``: negative inputs times slope / 2^FRAC_W (LeakyReLU), 0 = plain ReLU
    upscale: int = 1  # a pixel shuffle by this factor after the activation (sub-pixel convolutions)

    def __post_init__(self) -> None:
        subpixel = self.transposed and is_subpixel(self.weight, self.stride, self.padding, self.output_padding)
        self.subpixel = subpixel_kernel(self.weight) if subpixel else None  # laid out once
        fan = self.weight.abs().transpose(0, 1) if self.transposed else self.weight.abs()
        bound = fan.flatten(1).sum(1).max().item() * ACT_LIMIT + self.bias.abs().max().item()
        if bound >= EXACT:
            raise ValueError(f"fixed-point layer may exceed 2^53 ({bound:.3g}): weights too large")

    def __call__(self, x: Tensor) -> Tensor:
        return self.finish(self.accumulate(x), self.bias)

    def accumulate(self, x: Tensor) -> Tensor:
        """The layer's sums before bias, rounding and activation (FRAC_A + FRAC_W fractional bits)."""
        if self.transposed and self.subpixel is not None:
            return F.pixel_shuffle(int_conv2d(x, self.subpixel, 1, (1, 1, 1, 1)), 2)
        if self.transposed:
            return int_conv_transpose2d(x, self.weight, self.stride, self.padding, self.output_padding)
        p = self.padding
        return int_conv2d(x, self.weight, self.stride, (p, p, p, p))

    def finish(self, acc: Tensor, bias: Tensor) -> Tensor:
        """Add ``bias`` (|bias| within the one the layer was checked with), round, activate, clamp."""
        shape = (1, -1) + (1,) * (acc.dim() - 2)
        y = shift_round(acc + bias.view(shape), FRAC_W)
        if self.relu:
            y = torch.where(y < 0, shift_round(y * self.slope, FRAC_W), y) if self.slope else y.clamp_min(0)
        y = y.clamp(-ACT_LIMIT, ACT_LIMIT)
        return F.pixel_shuffle(y, self.upscale) if self.upscale > 1 else y


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The layers of a (nested) ``Sequential``, in order."""
    if isinstance(module, nn.Sequential):
        return [leaf for m in module for leaf in _leaves(m)]
    return [module]


def _slope(act: nn.Module) -> int:
    """An activation's negative slope in FRAC_W fixed point (0: ReLU)."""
    if isinstance(act, nn.ReLU):
        return 0
    slope = int(to_fixed(torch.tensor(act.negative_slope), FRAC_W))
    if slope <= 0:
        raise ValueError(f"no integer form for LeakyReLU({act.negative_slope})")
    return slope


class IntHyperSynthesis:
    """Exact integer twin of a ``Sequential`` of (transposed) convolutions, ReLUs and LeakyReLUs."""

    def __init__(self, h_s: nn.Sequential | None = None, layers: list[IntLayer] | None = None):
        self.layers: list[IntLayer] = layers or []
        for m in _leaves(h_s) if h_s is not None else []:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                transposed = isinstance(m, nn.ConvTranspose2d)
                self.layers.append(IntLayer(to_fixed(m.weight, FRAC_W), to_fixed(m.bias, FRAC_W + FRAC_A),
                                            transposed, m.stride[0], m.padding[0],
                                            m.output_padding[0] if transposed else 0, False))
            elif isinstance(m, (nn.ReLU, nn.LeakyReLU)) and self.layers and not self.layers[-1].relu:
                self.layers[-1].relu, self.layers[-1].slope = True, _slope(m)
            elif isinstance(m, nn.PixelShuffle) and self.layers and self.layers[-1].upscale == 1:
                self.layers[-1].upscale = m.upscale_factor  # shuffling commutes with the activation after it
            else:
                raise ValueError(f"no integer form for a {type(m).__name__} layer here")

    def tensors(self, prefix: str) -> tuple[dict[str, Tensor], list[dict]]:
        """The integer layers as int64 tensors and their shapes in words, to store in a weights file."""
        tensors, specs = {}, []
        for i, layer in enumerate(self.layers):
            tensors[f"{prefix}.{i}.weight"], tensors[f"{prefix}.{i}.bias"] = layer.weight, layer.bias
            specs.append({"transposed": layer.transposed, "stride": layer.stride, "padding": layer.padding,
                          "output_padding": layer.output_padding, "relu": layer.relu, "slope": layer.slope,
                          "upscale": layer.upscale})
        return tensors, specs

    @classmethod
    def from_tensors(cls, prefix: str, tensors: dict[str, Tensor], specs: list[dict]) -> "IntHyperSynthesis":
        """Inverse of ``tensors``: the stored integers are used as they are (the range check runs again)."""
        return cls(layers=[IntLayer(tensors[f"{prefix}.{i}.weight"].long(), tensors[f"{prefix}.{i}.bias"].long(),
                                    bool(s["transposed"]), int(s["stride"]), int(s["padding"]),
                                    int(s["output_padding"]), bool(s["relu"]), int(s["slope"]),
                                    int(s.get("upscale", 1)))
                           for i, s in enumerate(specs)])

    def __call__(self, x: Tensor) -> Tensor:
        """x: int64 [1, C, h, w] with FRAC_A fractional bits -> int64 output with FRAC_A fractional bits."""
        x = x.clamp(-ACT_LIMIT, ACT_LIMIT)
        for layer in self.layers:
            x = layer(x)
        return x


def _int_layer(conv: nn.Conv2d, relu: bool, bias_bound: Tensor | None = None) -> IntLayer:
    """Fixed-point copy of a convolution, its exact range checked with biases up to ``bias_bound``."""
    bias = to_fixed(conv.bias, FRAC_W + FRAC_A)
    layer = IntLayer(to_fixed(conv.weight, FRAC_W), bias if bias_bound is None else bias_bound, False,
                     conv.stride[0], conv.padding[0], 0, relu)
    layer.bias = bias
    return layer


class IntCheckerboard:
    """Exact integer twin of ``aecodec.models.context.CheckerboardContext``, evaluated only where it is used:
    at the non-anchor positions, and only over the kernel taps that land on anchors (the rest read zeros), a
    quarter of a full convolution's work."""

    def __init__(self, ctx: nn.Module):
        self.level_bias = to_fixed(ctx.level_bias, FRAC_W + FRAC_A)  # [L, width]
        conv_bias = to_fixed(ctx.ctx.bias, FRAC_W + FRAC_A)
        self.ctx = _int_layer(ctx.ctx, True, conv_bias.abs() + self.level_bias.abs().amax(0))
        k = ctx.ctx.kernel_size[0]
        # from a non-anchor (row + column odd) the anchors lie at offsets whose row + column is odd
        self.taps = [(i, j) for i in range(k) for j in range(k) if (i + j) % 2 == 1]
        rows, cols = zip(*self.taps)
        w = self.ctx.weight[:, :, list(rows), list(cols)]  # [width, M, taps]
        self.tap_weight = w.reshape(w.shape[0], -1).to(torch.float64)
        convs = [m for m in ctx.ep if isinstance(m, nn.Conv2d)]
        self.ep = [_int_layer(m, i + 1 < len(convs)) for i, m in enumerate(convs)]
        self.kernel = k

    def __call__(self, anchors: Tensor, params: Tensor, level_bias: Tensor, where: Tensor) -> Tensor:
        """anchors: int64 [1, M, h, w] ungained decoded latents, zero off the anchors; params: the hyperprior's
        int64 (mean, scale) [1, 2M, h, w]; level_bias: int64 [width] (rows of ``level_bias``, interpolated);
        where: bool [h, w], the non-anchors -> corrected (mean, scale) int64 [2M, n] at the n positions of
        ``where`` (row-major), FRAC_A fixed point."""
        r = self.kernel // 2
        xp = F.pad(anchors[0].clamp(-ACT_LIMIT, ACT_LIMIT).to(torch.float64), (r, r, r, r))
        ii, jj = where.nonzero(as_tuple=True)
        cols = torch.stack([xp[:, ii + i, jj + j] for i, j in self.taps], 1)  # [M, taps, n]
        acc = (self.tap_weight @ cols.reshape(-1, len(ii))).to(torch.int64)
        feat = self.ctx.finish(acc[None], self.ctx.bias + level_bias)[0]
        p = params[0][:, where].clamp(-ACT_LIMIT, ACT_LIMIT)
        x = torch.cat([p, feat])
        for layer in self.ep:
            m = layer.weight[:, :, 0, 0].to(torch.float64)
            x = layer.finish((m @ x.to(torch.float64)).to(torch.int64)[None], layer.bias)[0]
        return p + x


def causal_taps(k: int) -> list[tuple[int, int]]:
    """The taps of a k x k "type A" masked convolution (PixelCNN's, CompressAI's ``MaskedConv2d``): the rows
    above, and the positions to the left in the centre row."""
    return [(i, j) for i in range(k) for j in range(k) if i < k // 2 or (i == k // 2 and j < k // 2)]


class IntContextModel:
    """Exact integer twin of Minnen et al. 2018's autoregressive entropy model: a masked convolution over the
    decoded latents (``context``, evaluated over its causal taps only) and the entropy-parameter network
    (``ep``, 1x1 convolutions over [hyperprior features, context features]), at chosen latent positions."""

    def __init__(self, context: IntHyperSynthesis, ep: IntHyperSynthesis):
        (self.context,) = context.layers
        self.ep = ep.layers
        self.kernel = self.context.weight.shape[-1]
        if any(layer.weight.shape[-1] != 1 or layer.stride != 1 for layer in self.ep):
            raise ValueError("the entropy-parameter network must be 1x1 convolutions")
        self.taps = causal_taps(self.kernel)
        rows, cols = zip(*self.taps)
        w = self.context.weight
        outside = w.clone()
        outside[:, :, list(rows), list(cols)] = 0
        if outside.any():
            raise ValueError("the context convolution has weights outside its causal mask")
        self.hyper_channels = self.ep[0].weight.shape[1] - w.shape[0]
        if self.hyper_channels <= 0:
            raise ValueError("the entropy-parameter network's input is narrower than the context's output")
        # the step's products, laid out once: the context over its taps (tap-major), the first layer's share
        # of the context features (the hyperprior's is computed for all positions at once), the rest
        self.tap_product = ExactMatmul(w[:, :, list(rows), list(cols)].permute(0, 2, 1).reshape(w.shape[0], -1))
        first = self.ep[0].weight[:, :, 0, 0]
        self.hyper_matrix = first[:, :self.hyper_channels].to(torch.float64)
        self.products = [ExactMatmul(first[:, self.hyper_channels:])] + [
            ExactMatmul(layer.weight[:, :, 0, 0]) for layer in self.ep[1:]]

    @classmethod
    def from_modules(cls, context: nn.Conv2d, mask: Tensor, ep: nn.Sequential) -> "IntContextModel":
        """From float modules: ``context`` a masked convolution (its weights times ``mask``), ``ep`` a
        ``Sequential`` of 1x1 convolutions and (Leaky)ReLUs."""
        masked = nn.Conv2d(context.in_channels, context.out_channels, context.kernel_size, padding=context.padding)
        masked.weight.data, masked.bias.data = context.weight.detach() * mask, context.bias.detach()
        return cls(IntHyperSynthesis(nn.Sequential(masked)), IntHyperSynthesis(ep))

    def hyper_part(self, params: Tensor) -> Tensor:
        """Hyperprior features int64 [C, L] -> their share of the first layer's sums [C1, L]: computed for every
        position at once, as the context's share is computed step by step."""
        x = params.clamp(-ACT_LIMIT, ACT_LIMIT).to(torch.float64)
        return (self.hyper_matrix @ x).to(torch.int64)

    def __call__(self, cols: Tensor, hyper_acc: Tensor) -> Tensor:
        """cols: the decoded latents (FRAC_A, within +-ACT_LIMIT) at each position's causal taps, tap-major:
        int64 [taps * C, n], or their ``limbs`` along dim 1, int8 [taps * C, L, n]; hyper_acc:
        ``hyper_part`` at those positions -> the network's output int64 [C_out, n] (CompressAI's layout:
        scales, then means), FRAC_A fixed point."""
        acc = self.tap_product.of_digits(cols) if cols.dtype == torch.int8 else self.tap_product(cols)
        x = self.context.finish(acc[None], self.context.bias)[0]
        for i, (layer, product) in enumerate(zip(self.ep, self.products)):
            acc = product(x)
            x = layer.finish((acc + hyper_acc if i == 0 else acc)[None], layer.bias)[0]
        return x

    def tensors(self, prefix: str) -> tuple[dict[str, Tensor], dict]:
        tensors, ctx_specs = IntHyperSynthesis(layers=[self.context]).tensors(f"{prefix}.context")
        ep_tensors, ep_specs = IntHyperSynthesis(layers=self.ep).tensors(f"{prefix}.ep")
        return {**tensors, **ep_tensors}, {"context": ctx_specs, "ep": ep_specs}

    @classmethod
    def from_tensors(cls, prefix: str, tensors: dict[str, Tensor], specs: dict) -> "IntContextModel":
        return cls(IntHyperSynthesis.from_tensors(f"{prefix}.context", tensors, specs["context"]),
                   IntHyperSynthesis.from_tensors(f"{prefix}.ep", tensors, specs["ep"]))
