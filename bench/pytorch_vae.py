"""The reference: the PyTorch examples' MNIST VAE, written out.

A faithful copy of `pytorch/examples` `vae/main.py` (784-400-20, ReLU,
Bernoulli likelihood via `binary_cross_entropy` on sigmoid outputs summed
over pixels and batch, Adam 1e-3, batch 128, `torch.manual_seed(1)`), so
kerasae's VAE can be compared with it on the same machine and data. It runs
in its own environment with `pip install torch==2.13.0 numpy` and reads
MNIST from an `.npz` (`bench/export_mnist.py` writes one from TFDS), since
torchvision is not installed.

    python bench/pytorch_vae.py --mnist=/tmp/mnist.npz --epochs=10

Prints one line per epoch and a final JSON line with the test loss (the
negative ELBO in nats per example) and training throughput.
"""

import argparse
import json
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    """The example's model, layer for layer."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction BCE + KL, summed over the batch (as in the example)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def batches(x, batch_size, generator=None):
    order = (torch.randperm(len(x), generator=generator)
             if generator is not None else torch.arange(len(x)))
    for start in range(0, len(x), batch_size):
        yield x[order[start:start + batch_size]]


def setup(mnist, seed, threads=0):
    """The example's data, model, optimizer and shuffling generator.

    Args:
        mnist: path of the `.npz` that `bench/export_mnist.py` writes.
        seed: `torch.manual_seed` (the example's default is 1).
        threads: `torch.set_num_threads` (0: torch's default).

    Returns:
        (train, test, model, optimizer, generator).
    """
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    data = np.load(mnist)
    # ToTensor(): uint8 pixels -> float in [0, 1].
    train = torch.from_numpy(data["x_train"].reshape(-1, 784) / 255.0).float()
    test = torch.from_numpy(data["x_test"].reshape(-1, 784) / 255.0).float()
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    return train, test, model, optimizer, generator


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help=".npz from TFDS")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads (0: torch's default)")
    args = parser.parse_args()
    train, test, model, optimizer, generator = setup(
        args.mnist, args.seed, args.threads)
    epoch_seconds = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        total = 0.0
        for batch in batches(train, args.batch_size, generator):
            optimizer.zero_grad()
            recon, mu, logvar = model(batch)
            loss = loss_function(recon, batch, mu, logvar)
            loss.backward()
            total += loss.item()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - started)
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for batch in batches(test, args.batch_size):
                recon, mu, logvar = model(batch)
                test_loss += loss_function(recon, batch, mu, logvar).item()
        test_loss /= len(test)
        print(f"epoch {epoch}: train loss {total / len(train):.4f}, "
              f"test loss {test_loss:.4f}, {epoch_seconds[-1]:.2f} s",
              flush=True)
    steady = epoch_seconds[1:] or epoch_seconds
    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "epochs": args.epochs,
        "test_neg_elbo": test_loss,
        "samples_per_second": len(train) / (sum(steady) / len(steady)),
    }))


if __name__ == "__main__":
    main()
