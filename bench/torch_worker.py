"""The PyTorch reference, one epoch per request, for `vae_vs_pytorch.py`.

    /work/torchvenv/bin/python bench/torch_worker.py --mnist=/tmp/mnist.npz

Runs in the torch environment (no TensorFlow). It trains the model, loss
and batching of `bench/pytorch_vae.py` (imported, not copied, so the
reference stays the PyTorch example) and waits on stdin between epochs, so
the driver can alternate it with kerasae epoch by epoch and load hits both
alike. Protocol, one line each way:

- start-up: prints `{"ready": true, "torch": ..., "threads": ...}`;
- `train`: trains one epoch, evaluates the test split `--eval_passes`
  times (fresh noise each pass) and prints `{"seconds", "cpu_seconds",
  "train_loss", "test_neg_elbo", "test_neg_elbo_passes"}`;
- `quit` (or end of input): exits.
"""

import argparse
import json
import sys
import time

import pytorch_vae
import torch


def evaluate(model, test, batch_size, passes):
    """Mean test negative ELBO per example, one value per pass."""
    model.eval()
    values = []
    with torch.no_grad():
        for _ in range(passes):
            total = 0.0
            for batch in pytorch_vae.batches(test, batch_size):
                recon, mu, logvar = model(batch)
                total += pytorch_vae.loss_function(
                    recon, batch, mu, logvar).item()
            values.append(total / len(test))
    return values


def train_epoch(model, optimizer, train, batch_size, generator):
    """One epoch exactly as `pytorch_vae.main` trains it; mean loss."""
    model.train()
    total = 0.0
    for batch in pytorch_vae.batches(train, batch_size, generator):
        optimizer.zero_grad()
        recon, mu, logvar = model(batch)
        loss = pytorch_vae.loss_function(recon, batch, mu, logvar)
        loss.backward()
        total += loss.item()
        optimizer.step()
    return total / len(train)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--eval_passes", type=int, default=1)
    args = parser.parse_args()
    train, test, model, optimizer, generator = pytorch_vae.setup(
        args.mnist, args.seed, args.threads)
    print(json.dumps({"ready": True, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "train":
            break
        started, cpu_started = time.perf_counter(), time.process_time()
        train_loss = train_epoch(model, optimizer, train, args.batch_size,
                                 generator)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        passes = evaluate(model, test, args.batch_size, args.eval_passes)
        print(json.dumps({
            "seconds": seconds, "cpu_seconds": cpu_seconds,
            "train_loss": train_loss, "test_neg_elbo": passes[0],
            "test_neg_elbo_passes": passes,
        }), flush=True)


if __name__ == "__main__":
    main()
