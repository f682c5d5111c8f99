"""Training: the fit loop and what it runs on (strategies, precision,
thread pools, the fused Adam).

`train(config, workdir)` is the entry point (`loop`); `build` builds and
compiles a model, `final_metrics` ends a run, `resume` lets a killed one
go on. `load_run` (reading a run back) lives in `kerasae.workdir`, below
training, evaluation and export; it is re-exported here for callers that
know it as `kerasae.training.load_run`.
"""

from kerasae.training.build import build_for_training
from kerasae.training.build import compile_model
from kerasae.training.build import execution_steps
from kerasae.training.build import float32_copy
from kerasae.training.final_metrics import evaluate
from kerasae.training.final_metrics import print_summary
from kerasae.training.final_metrics import save_model
from kerasae.training.loop import datasets
from kerasae.training.loop import resolve
from kerasae.training.loop import standard_callbacks
from kerasae.training.loop import train
from kerasae.workdir import load_run

__all__ = [
    "build_for_training", "load_run", "compile_model", "datasets", "evaluate",
    "execution_steps", "float32_copy", "print_summary",
    "resolve", "save_model", "standard_callbacks", "train",
]
