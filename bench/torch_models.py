"""kerasae's conv VAE and conv1d autoencoder, layer for layer in PyTorch.

The references of `bench/vs_references.py` for the architectures the
PyTorch examples do not have (the dense VAE is the examples' own,
`bench/pytorch_vae.py`). Each has kerasae's defaults:

- `ConvVAE` (`--arch=conv`, MNIST): 3x3 stride-2 convolutions with 32
  and 64 filters and ReLU, a dense code of 2 x 20 (mean, log-variance);
  the decoder a dense layer to 7 x 7 x 64, transposed 3x3 stride-2
  convolutions with 64 and 32 filters, a 3x3 convolution to one channel;
  Bernoulli likelihood on the logits, summed over pixels, plus the KL
  term; the loss is the batch mean.
- `Conv1dAE` (`--model=ae --arch=conv1d`, windows of 48 steps): kernel-7
  stride-2 `Conv1d` with 32 and 16 filters, a dense code of 20; the
  decoder a dense layer to 12 x 16, transposed convolutions with 16 and
  32 filters, a kernel-7 `Conv1d` to the features; squared error summed
  over the window, batch mean.

PyTorch holds images as NCHW and windows as NCL: the inputs are
transposed once when they are loaded, not per step.
"""

import torch
from torch import nn
from torch.nn import functional as F


class ConvVAE(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.code = nn.Linear(7 * 7 * 64, 2 * latent)
        self.dec0 = nn.Linear(latent, 7 * 7 * 64)
        self.dec1 = nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1,
                                       output_padding=1)
        self.dec2 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1,
                                       output_padding=1)
        self.out = nn.Conv2d(32, 1, 3, padding=1)

    def forward(self, x):
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        mean, logvar = self.code(h.flatten(1)).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        h = F.relu(self.dec0(z)).view(-1, 64, 7, 7)
        logits = self.out(F.relu(self.dec2(F.relu(self.dec1(h)))))
        nll = F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum((1, 2, 3))
        kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), 1)
        return (nll + kl).mean()


class Conv1dAE(nn.Module):
    def __init__(self, features=2, latent=20):
        super().__init__()
        self.enc1 = nn.Conv1d(features, 32, 7, stride=2, padding=3)
        self.enc2 = nn.Conv1d(32, 16, 7, stride=2, padding=3)
        self.code = nn.Linear(12 * 16, latent)
        self.dec0 = nn.Linear(latent, 12 * 16)
        self.dec1 = nn.ConvTranspose1d(16, 16, 7, stride=2, padding=3,
                                       output_padding=1)
        self.dec2 = nn.ConvTranspose1d(16, 32, 7, stride=2, padding=3,
                                       output_padding=1)
        self.out = nn.Conv1d(32, features, 7, padding=3)

    def forward(self, x):
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        z = self.code(h.flatten(1))
        h = F.relu(self.dec0(z)).view(-1, 16, 12)
        out = self.out(F.relu(self.dec2(F.relu(self.dec1(h)))))
        return (out - x).pow(2).sum((1, 2)).mean()
