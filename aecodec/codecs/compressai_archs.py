"""The CompressAI architectures ``aecodec import compressai`` reads: one table, data only (no torch), so that the
registry (which codec each becomes) and the importer (how it maps onto this project's parts) read the same rows
and ``import aecodec`` loads no network code."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompressAIArch:
    """How a CompressAI zoo architecture maps onto this project's parts, and the registered codec it becomes."""

    compressai_class: str
    codec: str
    layout: str  # of the hyper-synthesis' output (``aecodec.codecs.latents.HyperPath``); "" = no hyperprior,
    # "features" = the input of an autoregressive context model
    leaky: bool = False  # the hyper-analysis' activation is LeakyReLU (else ReLU)
    abs_input: bool = False  # the hyper-analysis sees |y|
    residual: bool = False  # Cheng et al.'s residual transforms (``aecodec.models.residual``), M = N
    attention: bool = False  # ... with attention blocks


ARCHS: dict[str, CompressAIArch] = {
    "bmshj2018-factorized": CompressAIArch("FactorizedPrior", codec="compressai-factorized", layout=""),
    "bmshj2018-hyperprior": CompressAIArch("ScaleHyperprior", codec="compressai-hyperprior", layout="scale",
                                           abs_input=True),
    "mbt2018-mean": CompressAIArch("MeanScaleHyperprior", codec="compressai-hyperprior", layout="scale_mean",
                                   leaky=True),
    "mbt2018": CompressAIArch("JointAutoregressiveHierarchicalPriors", codec="compressai-autoregressive",
                              layout="features", leaky=True),
    "cheng2020-anchor": CompressAIArch("Cheng2020Anchor", codec="compressai-autoregressive", layout="features",
                                       leaky=True, residual=True),
    "cheng2020-attn": CompressAIArch("Cheng2020Attention", codec="compressai-autoregressive", layout="features",
                                     leaky=True, residual=True, attention=True),
}
