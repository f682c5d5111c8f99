"""What each figure of a run means, in one sentence, for `report.html`.

`describe(key)` gives the sentence shown beside a metric; `PICTURES`
captions each PNG of `RUN/plots/`. The wording follows
docs/evaluation.md, where the definitions and references are.
"""

import re

METRICS = {
    # Training-time validation metrics (`metrics.json`, the eval split).
    "loss": "The training objective on held-out data (lower is better).",
    "reconstruction": "The reconstruction term of the loss: Bernoulli "
                      "NLL in nats (bce) or sum of squared errors (mse) "
                      "per example.",
    "kl": "KL(q(z|x) || p(z)) in nats per example: what the code costs.",
    "mse_raw": "Mean squared error of the reconstruction in raw units "
               "(the data as given, before preprocessing).",
    # Evaluation metrics.
    "mse": "Mean squared error per element of decode(encode(x)), in "
           "model space (lower is better).",
    "psnr": "Peak signal-to-noise ratio in dB, peak = range of the "
            "training data (higher is better).",
    "bce": "Binary cross-entropy in nats per example (data in [0, 1]).",
    "pca_mse": "The same error for PCA with as many components as the "
               "code: the best linear autoencoder; pca_mse - mse is what "
               "the nonlinearity buys.",
    "neg_elbo": "VAE: the negative evidence lower bound in nats (lower is "
                "better).",
    "active_units": "VAE: code units whose mean varies with the input "
                    "(covariance above 0.01); the rest are unused.",
    "num_examples": "Examples the figures are computed on.",
    "split": "The data split the figures are computed on.",
    "sample_size": "A streamed run is judged on a bounded sample of this "
                   "many examples.",
    "num_windows": "Series windows scored.",
    "window": "Steps per window (--window).",
    # Anomaly detection.
    "score": "The anomaly score (higher is more anomalous); the exported "
             "score endpoint computes the same number.",
    "threshold": "Scores above this are flagged as anomalies.",
    "method": "How the threshold was calibrated on normal data.",
    "quantile": "The quantile of normal validation scores used as the "
                "threshold.",
    "flagged_fraction": "Share of the scored data above the threshold.",
    "anomaly_fraction": "Share of the scored data labelled anomalous.",
    "auroc": "Area under the ROC curve of the score against the labels: "
             "0.5 is chance, 1 is perfect, independent of the threshold.",
    "auprc": "Average precision of the score against the labels "
             "(the anomaly share is chance).",
    "precision": "Of the flagged examples, the share that are anomalies.",
    "recall": "Of the anomalies, the share flagged.",
    "f1": "Harmonic mean of precision and recall at the threshold.",
    "normal_classes": "Labels that count as normal; others are anomalies.",
    "calibration_examples": "Normal examples the threshold was set on.",
    "calibration_windows": "Normal windows the threshold was set on.",
    "calibrated_on": "The normal data the threshold was set on.",
    "fpr_normal_steps": "Share of labelled-normal steps flagged (false "
                        "positives), on data calibration never saw.",
    "fpr_normal_windows": "Share of windows without any labelled anomaly "
                          "that are flagged.",
    "recall_anomalous_steps": "Share of labelled-anomalous steps flagged.",
    "scored_file": "The file scored step by step (scores.csv).",
    "scored_split": "The split scored.",
    "scored_steps": "Steps with a complete window, hence a score.",
    "steps": "Steps in the scored file.",
    "step_score": "What the score of one step is.",
    "rules": "The same scores under other threshold rules, for comparison.",
    # Run facts.
    "train_seconds": "Wall time of training.",
    "parameters": "Trainable and non-trainable weights of the model.",
    "epochs": "Passes over the training data.",
    "matmul_precision": "Number format of the matrix products during "
                        "training (the saved model is float32).",
}
PATTERNS = [
    (r"iwae_nll_k(\d+)", "VAE: -log p(x) in nats, the importance-weighted "
     "bound with k = {0} samples (Burda et al. 2016); tighter than the "
     "ELBO."),
    (r"prior_.*|sample_mmd", "How closely the codes (or samples) match the "
     "prior: a two-sample statistic, 0 is a perfect match."),
    (r"(linear|knn).*", "Test accuracy of a classifier on the codes (a "
     "probe of what the code holds)."),
]
GENERIC = "See docs/evaluation.md for its definition."

PICTURES = {
    "training_curves.png": "Every metric of history.csv per epoch, "
                           "training and validation.",
    "reconstruction.png": "Test inputs (top) over their reconstructions.",
    "denoising.png": "Corrupted inputs, clean inputs and what the "
                     "denoising autoencoder made of the corrupted ones.",
    "codes.png": "The codes of test examples in 2-D (PCA above 2 "
                 "dimensions), coloured by label when there are labels.",
    "interpolation.png": "Two test inputs at the ends and the decoded "
                         "points of the straight line between their codes.",
    "samples.png": "Decoded draws from the prior.",
    "anomaly_scores.png": "Score densities (normal against anomalous when "
                          "labelled) and the threshold.",
    "series_scores.png": "The readings (top) and the step score with its "
                         "threshold (bottom); flagged stretches red, "
                         "labelled anomalies grey.",
}


def describe(key):
    """One sentence saying what metric `key` means."""
    if key in METRICS:
        return METRICS[key]
    for pattern, text in PATTERNS:
        match = re.fullmatch(pattern, key)
        if match:
            return text.format(*match.groups())
    return GENERIC
