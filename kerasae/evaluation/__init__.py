"""Evaluation of a trained run: metrics, anomaly scores, prior match and
pictures.

`evaluate_run(workdir, options)` is the entry point
(`python -m kerasae.evaluate` calls it).
"""

from kerasae.evaluation.metrics import EvalOptions
from kerasae.evaluation.metrics import active_units
from kerasae.evaluation.metrics import evaluate_run
from kerasae.evaluation.metrics import iwae_bound
from kerasae.evaluation.metrics import negative_elbo
from kerasae.evaluation.metrics import pca_reconstruction_mse
from kerasae.evaluation.metrics import reconstruction_metrics
from kerasae.evaluation.metrics import validate

__all__ = [
    "EvalOptions", "active_units", "evaluate_run", "iwae_bound",
    "negative_elbo", "pca_reconstruction_mse", "reconstruction_metrics",
    "validate",
]
