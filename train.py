"""Trains an autoencoder: absl flags -> `Config` -> `kerasae.training.train`.

    python train.py --model=vae --dataset=mnist --workdir=runs/vae
    python train.py --config=runs/vae/config.json --epochs=20

The same script is installed as `kerasae-train`. It stays thin on purpose
(as the Flax examples keep `main.py`): the flags are generated from the
config dataclasses (`kerasae.cli`), the script lives in
`kerasae.scripts.train`, and the logic in the importable `kerasae`
package, whose functions take config objects, never flags.
"""

from kerasae.scripts.train import run

if __name__ == "__main__":
    run()
