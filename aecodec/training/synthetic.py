"""Synthetic sensor-like signals: the array codec's training data and its tests' and benchmark's inputs."""
from __future__ import annotations

import numpy as np


def signals(n: int, length: int = 64, seed: int = 0, anomalies: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth sensor-like signals: two random sinusoids (1 to 4 cycles per 64 samples, whatever the length) plus
    small noise, [n, length] float32. A fraction ``anomalies`` get a glitch (a spike burst or a level shift over
    a short window); returns (signals, labels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 64
    freq = rng.uniform(1, 4, (n, 2, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    amp = rng.uniform(0.3, 1.0, (n, 2, 1))
    x = (amp * np.sin(2 * np.pi * freq * t + phase)).sum(1) + 0.02 * rng.standard_normal((n, length))
    labels = rng.random(n) < anomalies
    for i in np.flatnonzero(labels):
        start = rng.integers(0, length - 8)
        if rng.random() < 0.5:
            x[i, start:start + 3] += rng.choice([-1, 1]) * rng.uniform(1.0, 2.0)
        else:
            x[i, start:start + 8] += rng.choice([-1, 1]) * rng.uniform(0.6, 1.0)
    return x.astype(np.float32), labels
