"""Networks only (nn.Modules): transforms, entropy and context models. They import nothing from codecs or training."""
