"""Training: the fit loop and what it runs on (strategies, precision,
thread pools, the fused Adam).

`train(config, workdir)` is the entry point; the rest of `loop` is public
for tests and benchmarks.
"""

from kerasae.training.loop import build_for_training
from kerasae.training.loop import compile_model
from kerasae.training.loop import datasets
from kerasae.training.loop import evaluate
from kerasae.training.loop import execution_steps
from kerasae.training.loop import float32_copy
from kerasae.training.loop import load_run
from kerasae.training.loop import print_summary
from kerasae.training.loop import resolve
from kerasae.training.loop import save_model
from kerasae.training.loop import standard_callbacks
from kerasae.training.loop import train

__all__ = [
    "build_for_training", "compile_model", "datasets", "evaluate",
    "execution_steps", "float32_copy", "load_run", "print_summary",
    "resolve", "save_model", "standard_callbacks", "train",
]
