"""The trainable vqvae (codebooks and priors on frozen transforms): it is the codec's own encoder path, it
learns through the synthesis transform, and finalizing it leaves no unused code."""
import numpy as np
import torch
from PIL import Image

import aecodec
from aecodec.codecs.vq import latent_pairs
from aecodec.image import pad_to, split_image
from aecodec.training.loop import TrainOptions, train
from aecodec.training.losses import rd_loss
from aecodec.training.tasks.vq_books import VQVAE, ecvq


def crop(sample_path, size=128):
    x = pad_to(split_image(Image.open(sample_path).convert("RGB"))[0], 64)
    return x[:, :, :size, :size].contiguous()


def model_and_codec():
    vq = aecodec.load("vqvae")
    return VQVAE.from_codec(vq), vq


def test_warm_started_model_is_the_codec(sample_path):
    model, vq = model_and_codec()
    x = crop(sample_path)
    q = 3
    with torch.no_grad():
        y = vq.model.analysis(x)
        _, v, cls, _ = latent_pairs(vq.latents.hyper, y, 16 * (vq.latents.levels[q - 1] + 1), vq.latents.top[q])
        assert torch.equal(model.assign(q, cls, v.float()), vq.latents.nearest(q, cls, v))
        out = model(x, torch.tensor([q - 1]))
    coded = vq.compress_batch(x, 16 * q)[0]
    decoded = vq.decompress_batch([coded], x.shape[2], x.shape[3], 16 * q)
    assert (out["x_hat"].clamp(0, 1) - decoded).abs().max() < 2e-3
    ideal = -torch.log2(out["likelihoods"]["y"]).sum().item()
    assert abs(8 * len(coded.streams[1]) - ideal) <= 0.02 * ideal + 64  # the prior's bits are the stream's


def test_training_moves_only_codebooks_and_priors_and_lowers_the_loss(sample_path):
    model, vq = model_and_codec()
    frozen = {k: v.clone() for k, v in vq.model.state_dict().items()}
    x = crop(sample_path, 64)
    level = torch.tensor([1])
    lam = torch.tensor([model.config.lambdas[1]])
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(12):
        r = rd_loss(x, model(x, level), lam)
        opt.zero_grad()
        r.loss.backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.books.values())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.logits.values())
        opt.step()
        losses.append(r.loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(frozen[k], v) for k, v in vq.model.state_dict().items())


def test_prune_and_finalize_leave_every_code_used(sample_path):
    model, vq = model_and_codec()
    key = (2, 5)
    n = np.arange(model.config.sizes[key])  # code i chosen i times
    counts = {k: (n if k == key else np.full(s, 10)) for k, s in model.config.sizes.items()}
    before = model.books["2_5"].detach().clone()
    model.prune(counts, min_count=3)
    assert model.config.sizes[key] == len(n) - 3
    assert torch.equal(model.books["2_5"].detach(), before[3:])
    with torch.no_grad():
        latents = [vq.model.analysis(crop(sample_path, 128))]
    books, freqs, counts = model.finalize(latents, min_count=2)
    for k in counts:
        assert (counts[k] > 0).all() or len(counts[k]) == 1
        assert len(books[k]) == len(freqs[k]) == len(counts[k])
        assert freqs[k].sum() == 1 << 16


def test_train_loop_trains_vqvae_and_resumes_exactly(tmp_path, sample_path):
    def opts(name):
        return TrainOptions(out=str(tmp_path / name), data=str(sample_path.parent), codec="vqvae", steps=4,
                            batch=2, patch=64, crop=64, lr=1e-2, warmup=1, val_every=2, ckpt_every=2,
                            init=str(aecodec.get_codec("vqvae").weights_path))
    train(opts("straight"))
    o = opts("resumed")
    o.time_limit = 1e-9  # stop after the first step, then resume to the end
    train(o)
    train(opts("resumed"))
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 4 and a["config"]["codec"] == "vqvae" and a["aux_opt"] is None
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    start = VQVAE.from_codec(aecodec.load("vqvae")).state_dict()
    assert any(not torch.equal(start[k], a["model"][k]) for k in start)


def test_entropy_constrained_vq_keeps_only_the_codes_worth_their_bits():
    """Two tight clusters: splitting one saves less distortion than the bits of a larger index cost, so of 32
    k-means++ codes about one per cluster survives, each used, at the cluster's mean."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [8.0, -8.0]])
    v = torch.cat([c + 0.05 * torch.randn(3000, 2, generator=gen) for c in centers])
    book, counts = ecvq(v, 32, 12, gen)
    assert 2 <= len(book) <= 4 and (counts > 0).all() and counts.sum() == len(v)
    assert torch.cdist(centers, book).min(1).values.max() < 0.05
