"""Training: the fit loop and what it runs on (strategies, precision,
thread pools, the fused Adam).

`train(config, workdir)` is the entry point; the rest of `loop` is public
for tests and benchmarks. `load_run` (reading a run back) lives in
`kerasae.run`, below training, evaluation and export; it is re-exported
here for the callers that knew it as `kerasae.training.load_run`.
"""

from kerasae.run import load_run
from kerasae.training.loop import build_for_training
from kerasae.training.loop import compile_model
from kerasae.training.loop import datasets
from kerasae.training.loop import evaluate
from kerasae.training.loop import execution_steps
from kerasae.training.loop import float32_copy
from kerasae.training.loop import print_summary
from kerasae.training.loop import resolve
from kerasae.training.loop import save_model
from kerasae.training.loop import standard_callbacks
from kerasae.training.loop import train

__all__ = [
    "build_for_training", "load_run", "compile_model", "datasets", "evaluate",
    "execution_steps", "float32_copy", "print_summary",
    "resolve", "save_model", "standard_callbacks", "train",
]
