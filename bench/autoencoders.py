"""Train every autoencoder of the toolkit on small offline data and check the theory; writes a JSON report and
PNG figures.

    python bench/autoencoders.py --out bench/results/autoencoders/report.json

Data: scikit-learn's 8x8 digits (bundled, no download), the synthetic factor images and synthetic signals of
``aecodec.ae.analysis``. About 10 minutes on 2 CPU cores. Why: the toolkit's models should do what the
textbooks say (a linear AE spans the PCA subspace, denoising and sparsity help, ...); this is the evidence.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aecodec.ae import VAE, DenseAE, Seq2SeqAE, contractive_autograd, contractive_sigmoid, gaussian_kl, kl_sparsity
from aecodec.ae.analysis import (
    CORRUPTIONS,
    anomaly_report,
    beta_vae_metric,
    factor_dataset,
    mig,
    save_grid,
    subspace_angle_deg,
)
from aecodec.ae.fit import fit
from aecodec.eval.metrics import db_from_mse
from aecodec.training.synthetic import signals

RESULT = Path(__file__).resolve().parent / "results" / "autoencoders" / "report.json"


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().data, dtype=torch.float32) / 16
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:1400]], x[perm[1400:]]


def pca_check(train: torch.Tensor, k: int = 8) -> dict:
    """A linear autoencoder trained with MSE spans the top-k principal subspace (Baldi and Hornik 1989)."""
    from sklearn.decomposition import PCA

    mean = train.mean(0)
    x = train - mean
    torch.manual_seed(0)
    ae = DenseAE([64, k], act="identity")
    fit(ae, lambda m, b: F.mse_loss(m(b)[0], b), x, steps=4000, batch=256, lr=1e-2)
    pca = PCA(k).fit(x.numpy())
    w = ae.decoder[0].weight.detach().numpy()  # [64, k]: the decoder's column space
    ae_mse = F.mse_loss(ae(x)[0], x).item()
    pca_mse = float(((x.numpy() - pca.inverse_transform(pca.transform(x.numpy()))) ** 2).mean())
    return {"linear_ae_subspace_angle_deg": subspace_angle_deg(w, pca.components_.T), "k": k,
            "linear_ae_mse": ae_mse, "pca_mse": pca_mse}


def denoising(train: torch.Tensor, test: torch.Tensor, figures: Path) -> dict:
    params = {"gaussian": 0.3, "masking": 0.4, "salt_pepper": 0.2}
    gains, shown = {}, []
    for name, corrupt in CORRUPTIONS.items():
        torch.manual_seed(1)
        ae = DenseAE([64, 256, 64], out_act="sigmoid", init="he")
        gen = torch.Generator().manual_seed(2)
        fit(ae, lambda m, b: F.mse_loss(m(corrupt(b, params[name], gen))[0], b), train, steps=3000, batch=128,
            lr=3e-3)
        noisy = corrupt(test, params[name], torch.Generator().manual_seed(3))
        with torch.no_grad():
            clean = ae(noisy)[0]
        gains[name] = float(db_from_mse((clean - test).pow(2).mean()) - db_from_mse((noisy - test).pow(2).mean()))
        shown.append(np.stack([test[:8].numpy(), noisy[:8].numpy(), clean[:8].numpy()]))
    save_grid(np.concatenate(shown), figures / "denoising.png", 8)
    return {"psnr_gain_db": gains, "noise": params}


def sparse(train: torch.Tensor, test: torch.Tensor, rho: float = 0.05) -> dict:
    torch.manual_seed(4)
    ae = DenseAE([64, 100], act="sigmoid", code_act="sigmoid", out_act="sigmoid")
    fit(ae, lambda m, b: F.mse_loss(m(b)[0], b, reduction="sum") / len(b) + kl_sparsity(m(b)[1], rho, 3.0),
        train, steps=3000, batch=128, lr=3e-3)
    with torch.no_grad():
        h = ae(test)[1]
    return {"kl_mean_activation": h.mean().item(), "rho": rho, "hidden": 100}


def contractive(train: torch.Tensor, test: torch.Tensor) -> dict:
    norms = {}
    for name, weight in (("plain", 0.0), ("cae", 0.1)):
        torch.manual_seed(5)
        ae = DenseAE([64, 32], act="sigmoid", code_act="sigmoid", out_act="sigmoid")
        enc = ae.encoder[0]

        def loss(m, b, weight=weight, enc=enc):
            x_hat, h = m(b)
            return F.mse_loss(x_hat, b, reduction="sum") / len(b) + weight * contractive_sigmoid(h, enc.weight)
        fit(ae, loss, train, steps=3000, batch=128, lr=3e-3)
        norms[name] = contractive_autograd(ae.encoder, test).item()
        norms[f"{name}_mse"] = F.mse_loss(ae(test)[0], test).item()
    return {"jacobian_frobenius_ratio": norms["cae"] / norms["plain"], **norms}


def anomaly() -> dict:
    train, _ = signals(3000, seed=10)
    test, labels = signals(1000, seed=11, anomalies=0.2)
    train_t, test_t = torch.tensor(train), torch.tensor(test)
    torch.manual_seed(6)
    ae = DenseAE([64, 64, 8], act="tanh")
    fit(ae, lambda m, b: F.mse_loss(m(b)[0], b), train_t, steps=3000, batch=128, lr=3e-3)
    with torch.no_grad():
        err_train = ((ae(train_t)[0] - train_t) ** 2).mean(1).numpy()
        err_test = ((ae(test_t)[0] - test_t) ** 2).mean(1).numpy()
    return anomaly_report(err_train, err_test, labels)


def sequence() -> dict:
    train, _ = signals(2000, seed=20)
    test, _ = signals(300, seed=21)
    train_t, test_t = torch.tensor(train)[..., None], torch.tensor(test)[..., None]
    torch.manual_seed(7)
    ae = Seq2SeqAE(1, 32, 2, stride=4)  # 16 codes of 2 values for 64 samples: half the size
    fit(ae, lambda m, b: F.mse_loss(m(b)[0], b), train_t, steps=1500, batch=64, lr=5e-3)
    with torch.no_grad():
        rec = ae(test_t)[0]
    rel = (torch.linalg.vector_norm(rec - test_t) / torch.linalg.vector_norm(test_t)).item()
    return {"relative_rmse": rel, "code_values": 64 // 4 * 2, "samples": 64}


def disentanglement(figures: Path) -> dict:
    images, factors = factor_dataset()
    x = torch.tensor(images)
    out = {}
    for name, beta in (("vae", 1.0), ("beta_vae", 6.0)):
        torch.manual_seed(8)
        vae = VAE([256, 256, 128, 6], beta=beta)

        def loss(m, b, beta=beta):
            logits, _, mu, logvar = m(b)
            rec = F.binary_cross_entropy_with_logits(logits, b, reduction="sum") / len(b)
            return rec + m.beta * gaussian_kl(mu, logvar).mean()
        fit(vae, loss, x, steps=4000, batch=64, lr=1e-3)

        def encode(imgs: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return vae.posterior(torch.tensor(imgs))[0].numpy()
        codes = encode(images)
        out[name] = {"beta": beta, "mig": mig(codes, factors), "beta_vae_metric": beta_vae_metric(encode)}
        if name == "beta_vae":
            _grids(vae, x, factors, figures)
    return out


def _grids(vae: VAE, x: torch.Tensor, factors: np.ndarray, figures: Path) -> None:
    """Latent interpolation between pairs of images, and latent arithmetic on the factor images."""
    with torch.no_grad():
        mu = vae.posterior(x)[0]
        decode = lambda z: torch.sigmoid(vae.decoder(z)).numpy()  # noqa: E731
        pairs = [(0, 1023), (7, 1016), (100, 900)]
        t = torch.linspace(0, 1, 8)[:, None]
        rows = [decode((1 - t) * mu[a] + t * mu[b]) for a, b in pairs]
        save_grid(np.stack(rows), figures / "interpolation.png", 16)

        def idx(f):
            return int(np.flatnonzero((factors == f).all(1))[0])
        # big blob on the left - small blob on the left + small blob on the right = big blob on the right?
        a, b, c, want = idx([1, 4, 3, 1]), idx([1, 4, 0, 1]), idx([6, 4, 0, 1]), idx([6, 4, 3, 1])
        z = mu[a] - mu[b] + mu[c]
        row = np.stack([x[a].numpy(), x[b].numpy(), x[c].numpy(), decode(z[None])[0], x[want].numpy()])
        save_grid(row[None], figures / "arithmetic.png", 16)


def data_codec() -> dict:
    """The `signal` array codec on signals it was not trained on (other seeds), against lossless zlib/lzma on
    the raw float64 bytes and a uniform quantizer with the same error bound followed by lzma."""
    import lzma
    import zlib

    import aecodec

    x = signals(40, length=4096, seed=1234)[0].astype(np.float64)
    rows = []
    for bound in (0.1, 0.03, 0.01, 0.003, 0.001):
        data = aecodec.encode_array(x, bound)
        y = aecodec.decode_array(data)
        q = np.round(x / (2 * bound)).astype(np.int32)
        rows.append({"error_bound": bound, "ratio": x.nbytes / len(data), "max_abs_error": float(np.abs(x - y).max()),
                     "quantizer_lzma_ratio": x.nbytes / len(lzma.compress(q.tobytes(), preset=9))})
    main_row = next(r for r in rows if r["error_bound"] == 0.01)
    return {**main_row, "zlib_ratio": x.nbytes / len(zlib.compress(x.tobytes(), 9)),
            "lzma_ratio": x.nbytes / len(lzma.compress(x.tobytes(), preset=9)), "sweep": rows,
            "values": int(x.size)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULT, help="JSON report; the figures go beside it")
    a = p.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    figures = a.out.parent
    t0 = time.time()
    train, test = digits()
    report = {}
    steps = [("pca", lambda: pca_check(train)), ("denoising", lambda: denoising(train, test, figures)),
             ("sparse", lambda: sparse(train, test)), ("contractive", lambda: contractive(train, test)),
             ("anomaly", anomaly), ("sequence", sequence), ("disentanglement", lambda: disentanglement(figures)),
             ("data_codec", data_codec)]
    for name, fn in steps:
        t = time.time()
        report[name] = fn()
        report[name]["seconds"] = round(time.time() - t, 1)
        print(name, json.dumps(report[name]), flush=True)
    report["seconds"] = round(time.time() - t0, 1)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {a.out} in {report['seconds']} s")


if __name__ == "__main__":
    main()
