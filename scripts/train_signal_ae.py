"""Train the `signal` array codec's autoencoder and write aecodec/weights/signal.safetensors (+ provenance).

    python scripts/train_signal_ae.py [--steps 4000] [--out aecodec/weights/signal.safetensors]

Data: synthetic sensor-like signals (aecodec.ae.analysis.signals, seeds 100+), windows of 64 samples, each
normalized like the codec does per array. Loss = lambda * MSE + latent bits per sample, the latent rate from a
factorized entropy model (CompressAI's EntropyBottleneck): the residual coder pays about 1 bit per sample for
each halving of the prediction error, so lambda ~ 100 balances the two. About a minute on 2 CPU cores.
"""
import argparse
import time
from pathlib import Path

import torch
from compressai.entropy_models import EntropyBottleneck

from aecodec.ae.analysis import signals
from aecodec.codecs.signal import CODE, WINDOW, SignalAE
from aecodec.training.optim import cosine_lr
from aecodec.codecs.weights import export_signal

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--lmbda", type=float, default=100.0)
    p.add_argument("--out", type=Path, default=ROOT / "aecodec" / "weights" / "signal.safetensors")
    a = p.parse_args()
    torch.manual_seed(0)
    # long series cut into windows, normalized per series as the codec does per array
    raw, _ = signals(4000, length=WINDOW * 8, seed=100)
    raw = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    data = torch.tensor(raw.reshape(-1, WINDOW))
    model, eb = SignalAE(), EntropyBottleneck(CODE)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    aux_opt = torch.optim.Adam(eb.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(1)
    t0 = time.time()
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, 1e-3, 100, a.steps)
        x = data[torch.randint(len(data), (256,), generator=gen)]
        z = model.encoder(x)
        z_noisy, lik = eb(z[:, :, None])
        x_hat = model.decoder(z_noisy[:, :, 0])
        mse = (x_hat - x).pow(2).mean()
        bits = -torch.log2(lik).sum() / x.numel()
        loss = a.lmbda * mse + bits
        opt.zero_grad()
        aux_opt.zero_grad()
        (loss + eb.loss()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        aux_opt.step()
        if step % 500 == 0 or step == a.steps - 1:
            print(f"step {step}: mse {mse.item():.4f} latent bits/sample {bits.item():.3f}", flush=True)
    export_signal(model, a.out, {
        "codec": "signal", "data": "aecodec.ae.analysis.signals(4000, length=512, seed=100), 64-sample windows",
        "loss": f"{a.lmbda} * MSE + latent bits per sample (EntropyBottleneck)", "steps": a.steps, "batch": 256,
        "final_mse": round(mse.item(), 5), "final_latent_bits_per_sample": round(bits.item(), 4),
        "seconds": round(time.time() - t0, 1), "command": "python scripts/train_signal_ae.py"})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
