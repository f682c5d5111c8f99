"""Evaluation of a trained run: metrics, anomaly scores, prior match and
pictures.

`evaluate_run(workdir, options)` is the entry point
(`python -m kerasae.evaluate` calls it). `encode`, `decode` and
`reconstruct` apply a model to arrays in batches
(`kerasae.evaluation.inference`).
"""

from kerasae.evaluation.inference import decode
from kerasae.evaluation.inference import encode
from kerasae.evaluation.inference import reconstruct
from kerasae.evaluation.metrics import active_units
from kerasae.evaluation.metrics import iwae_bound
from kerasae.evaluation.metrics import negative_elbo
from kerasae.evaluation.metrics import nll_estimate
from kerasae.evaluation.metrics import pca_reconstruction_mse
from kerasae.evaluation.metrics import reconstruction_metrics
from kerasae.evaluation.run_evaluation import EvalOptions
from kerasae.evaluation.run_evaluation import evaluate_run
from kerasae.evaluation.run_evaluation import validate

__all__ = [
    "EvalOptions", "active_units", "decode", "encode", "evaluate_run",
    "iwae_bound", "negative_elbo", "nll_estimate", "pca_reconstruction_mse",
    "reconstruct", "reconstruction_metrics", "validate",
]
