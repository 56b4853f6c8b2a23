"""The autoencoder toolkit: classic architectures, losses and regularizers, sharing training utilities and
metrics with the codecs (``aecodec.training.loop``, ``aecodec.eval.metrics``)."""
from .losses import (
                     bce,
                     categorical_ce,
                     contractive_autograd,
                     contractive_sigmoid,
                     gaussian_kl,
                     kl_sparsity,
                     l1_sparsity,
                     mse,
)
from .models import VAE, AdversarialAE, ConvAE, DenseAE, Seq2SeqAE, StackedAE, TiedAE, init_weights, mlp

__all__ = ["AdversarialAE", "ConvAE", "DenseAE", "Seq2SeqAE", "StackedAE", "TiedAE", "VAE", "bce", "categorical_ce",
           "contractive_autograd", "contractive_sigmoid", "gaussian_kl", "init_weights", "kl_sparsity",
           "l1_sparsity", "mlp", "mse"]
