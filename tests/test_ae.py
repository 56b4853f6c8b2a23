"""The autoencoder toolkit: the math of each loss against closed forms, and every architecture's shapes."""
import math

import numpy as np
import pytest
import torch

from aecodec.ae import (
    VAE,
    AdversarialAE,
    ConvAE,
    DenseAE,
    Seq2SeqAE,
    StackedAE,
    TiedAE,
    contractive_autograd,
    contractive_sigmoid,
    gaussian_kl,
    kl_sparsity,
    l1_sparsity,
)


def test_tied_weights_share_storage():
    m = TiedAE([6, 4, 3])
    assert sum(p.numel() for p in m.parameters()) == 6 * 4 + 4 + 4 * 3 + 3 + 6 + 4  # no decoder weights
    x = torch.randn(5, 6)
    x_hat, _ = m(x)
    x_hat.sum().backward()
    w = m.layers[0].weight
    with torch.no_grad():
        w.add_(1.0)  # changing the encoder weight changes the decoder: one tensor
    assert not torch.allclose(m(x)[0], x_hat)


def test_kl_sparsity_equals_its_closed_form_on_a_hand_example():
    h = torch.tensor([[0.1, 0.5], [0.3, 0.5]])  # mean activations 0.2 and 0.5
    rho, beta = 0.05, 3.0
    kl = lambda q: rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q))  # noqa: E731
    assert math.isclose(kl_sparsity(h, rho, beta).item(), beta * (kl(0.2) + kl(0.5)), rel_tol=1e-5)
    assert kl_sparsity(torch.full((4, 3), rho), rho, beta).item() == pytest.approx(0.0, abs=1e-6)
    assert l1_sparsity(torch.tensor([[1.0, -2.0], [0.0, 3.0]]), 0.5).item() == pytest.approx(0.5 * (3 + 3) / 2)


def test_contractive_closed_form_matches_the_autograd_jacobian():
    torch.manual_seed(0)
    layer = torch.nn.Linear(7, 4)
    enc = torch.nn.Sequential(layer, torch.nn.Sigmoid())
    x = torch.randn(9, 7)
    closed = contractive_sigmoid(enc(x), layer.weight)
    exact = torch.stack([torch.autograd.functional.jacobian(enc, xi[None])[0, :, 0].pow(2).sum() for xi in x]).mean()
    assert torch.allclose(closed, exact, rtol=1e-5)
    assert torch.allclose(contractive_autograd(enc, x), exact, rtol=1e-5)


def test_analytic_vae_kl_matches_monte_carlo():
    torch.manual_seed(1)
    mu, logvar = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[0.0, -1.0, 0.7]])
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    assert torch.allclose(gaussian_kl(mu, logvar)[0], mc, rtol=0.01)


@pytest.mark.parametrize("model,x", [
    (DenseAE([20, 8, 3], dropout=0.1, batchnorm=True, init="he"), torch.randn(4, 20)),
    (DenseAE([10, 32], code_act="sigmoid"), torch.randn(4, 10)),  # overcomplete
    (ConvAE(1, (8, 16), 4), torch.rand(2, 1, 16, 16)),
    (ConvAE(3, (8, 16), 4, skips=True, residual=True), torch.rand(2, 3, 16, 16)),
    (Seq2SeqAE(2, 16, 3), torch.randn(3, 25, 2)),
    (StackedAE([12, 6, 3]), torch.rand(5, 12)),
    (AdversarialAE([12, 6, 2]), torch.randn(5, 12)),
])
def test_architectures_reconstruct_their_input_shape(model, x):
    x_hat, code = model(x)[:2]
    assert x_hat.shape == x.shape and torch.isfinite(code).all()


def test_vae_samples_in_training_and_uses_the_mean_in_eval():
    torch.manual_seed(2)
    vae = VAE([10, 8, 2], beta=4.0)
    x = torch.randn(6, 10)
    _, z, mu, _ = vae(x)
    assert not torch.allclose(z, mu)
    vae.eval()
    _, z, mu, _ = vae(x)
    assert torch.equal(z, mu)


def test_stacked_pretraining_then_fine_tuning_lowers_the_loss():
    torch.manual_seed(3)
    x = torch.rand(64, 3) @ torch.rand(3, 12)  # data on a 3-d subspace
    x = x / x.max()
    m = StackedAE([12, 6, 3])
    before = torch.nn.functional.mse_loss(m(x)[0], x).item()
    m.pretrain(x, steps=150)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(m(x)[0], x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * before


def test_adversarial_losses_train_both_players():
    torch.manual_seed(4)
    m = AdversarialAE([8, 16, 2])
    rec, d, g = m.losses(torch.randn(16, 8))
    enc_params = list(m.ae.encoder.parameters())
    assert all(p is not None for p in torch.autograd.grad(g, enc_params, allow_unused=True))
    assert torch.autograd.grad(d, enc_params, allow_unused=True)[0] is None  # the critic's loss leaves the encoder


def test_mig_is_one_for_a_disentangled_code_and_lower_when_rotated():
    from aecodec.ae.analysis import factor_dataset, mig

    _, factors = factor_dataset()
    code = factors.astype(float) + 0.01 * np.random.default_rng(0).standard_normal(factors.shape)
    assert mig(code, factors) > 0.9
    theta = np.pi / 4
    rot = np.eye(4)
    rot[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    assert mig(code @ rot, factors) < 0.7


def test_corruptions_and_subspace_angle():
    from aecodec.ae.analysis import CORRUPTIONS, subspace_angle_deg

    x = torch.full((50, 40), 0.5)
    g = torch.Generator().manual_seed(0)
    assert (CORRUPTIONS["masking"](x, 0.3, g) == 0).float().mean().item() == pytest.approx(0.3, abs=0.03)
    sp = CORRUPTIONS["salt_pepper"](x, 0.2, g)
    assert ((sp == 0) | (sp == 1)).float().mean().item() == pytest.approx(0.2, abs=0.03)
    assert CORRUPTIONS["gaussian"](x, 0.1, g).std().item() == pytest.approx(0.1, abs=0.01)
    a = np.random.default_rng(1).standard_normal((10, 3))
    assert subspace_angle_deg(a, a @ np.random.default_rng(2).standard_normal((3, 3))) < 1e-4
    b = np.zeros((10, 1))
    b[0, 0] = 1
    c = np.zeros((10, 1))
    c[1, 0] = 1
    assert subspace_angle_deg(b, c) == pytest.approx(90.0)
