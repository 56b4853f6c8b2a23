"""Training: the one rate-distortion loop, a task per codec, losses, optimizers and data."""
