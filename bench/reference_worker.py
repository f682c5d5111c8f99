"""A reference trainer, timed in steps on request, for `vs_references.py`.

    /work/torchvenv/bin/python bench/reference_worker.py \
        --framework=torch --model=conv_vae --data=/tmp/x.npy

Runs in the reference's own environment (no TensorFlow). Loads the
training examples from `--data` (an `.npy` of float32 in kerasae's layout:
images NHWC, windows (steps, features)), builds the model, then answers
one line each way:

- start-up: prints `{"ready": true, "version": ..., "threads": ...}`;
- `train N`: trains N steps on batches of a fresh seeded shuffle (a new
  shuffle when the examples run out) and prints `{"seconds",
  "cpu_seconds", "loss"}`;
- `quit` (or end of input): exits.

Models: torch `dense_vae` (the PyTorch examples' VAE,
`bench/pytorch_vae.py`), `conv_vae`, `conv1d_ae` (`bench/torch_models.py`);
jax `dense_vae` (`bench/flax_vae.py`).
"""

import argparse
import json
import sys
import time

import numpy as np


def torch_trainer(model_name, x, batch_size, seed, threads):
    import pytorch_vae
    import torch
    import torch_models
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    if model_name == "dense_vae":
        model = pytorch_vae.VAE()
        data = torch.from_numpy(x.reshape(len(x), -1))

        def loss_of(batch):
            recon, mu, logvar = model(batch)
            return pytorch_vae.loss_function(recon, batch, mu, logvar)
    else:
        model = (torch_models.ConvVAE() if model_name == "conv_vae"
                 else torch_models.Conv1dAE(features=x.shape[-1]))
        # NHWC -> NCHW, (steps, features) -> (features, steps).
        axes = (0, 3, 1, 2) if x.ndim == 4 else (0, 2, 1)
        data = torch.from_numpy(np.ascontiguousarray(x.transpose(axes)))
        loss_of = model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(indices):
        optimizer.zero_grad()
        loss = loss_of(data[torch.from_numpy(indices)])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch.__version__, torch.get_num_threads()


def jax_trainer(model_name, x, batch_size, seed, threads):
    import flax_vae
    import jax
    if model_name != "dense_vae":
        raise SystemExit(f"jax: no {model_name} reference")
    data = jax.device_put(x.reshape(len(x), -1))
    state, train_step = flax_vae.make_step(seed, batch_size)
    box = [state]

    def step(indices):
        box[0], loss = train_step(box[0], data[indices])
        return loss

    return step, jax.__version__, jax.local_device_count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("torch", "jax"),
                        required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    x = np.load(args.data).astype(np.float32)
    make = torch_trainer if args.framework == "torch" else jax_trainer
    step, version, threads = make(args.model, x, args.batch_size, args.seed,
                                  args.threads)
    rng = np.random.default_rng(args.seed)
    batches = len(x) // args.batch_size
    order, position = rng.permutation(len(x)), 0
    # The first steps trace or warm up; they are not timed.
    for _ in range(5):
        loss = step(order[:args.batch_size])
    float(loss)
    print(json.dumps({"ready": True, "version": version,
                      "threads": threads}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "train":
            break
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(int(words[1])):
            if position == batches:
                order, position = rng.permutation(len(x)), 0
            start = position * args.batch_size
            loss = step(order[start:start + args.batch_size])
            position += 1
        loss = float(loss)  # waits for JAX's asynchronous dispatch
        print(json.dumps({
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "loss": loss}), flush=True)


if __name__ == "__main__":
    main()
