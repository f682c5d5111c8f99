"""`python -m kerasae.evaluate`: evaluates a training workdir.

    python -m kerasae.evaluate --workdir=runs/vae
    python -m kerasae.evaluate --workdir=runs/one_class_0 --normal_classes=0

The same script as the `kerasae-evaluate` console script; it lives in
`kerasae.scripts.evaluate` (see there for what it writes).
"""

from kerasae.scripts.evaluate import main  # noqa: F401
from kerasae.scripts.evaluate import options_from_flags  # noqa: F401
from kerasae.scripts.evaluate import run

if __name__ == "__main__":
    run()
