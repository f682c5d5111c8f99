"""The Python API: `kerasae.train` and `kerasae.load`.

    run = kerasae.load("runs/vae-mnist")
    codes = run.encode(images)            # uint8 pixels in, codes out
    flagged = run.is_anomaly(images)      # after python -m kerasae.evaluate

A `Run` holds a trained model with its config, preprocessing, metrics and
anomaly threshold. Its methods take and return NumPy arrays in the data's
raw units (uint8 pixels or CSV values, as the model was trained on), batch
internally, and call the very functions the exported SavedModel serves
(`kerasae.export.endpoints`), so a notebook, a service and TF Serving give
the same numbers.
"""

import numpy as np
import tensorflow as tf

from kerasae import lock
from kerasae import workdir as wd
from kerasae.errors import KerasaeError
from kerasae.export import endpoints as kae_endpoints
from kerasae.export import saved_model
from kerasae.training import loop


class UnsupportedError(KerasaeError):
    """A `Run` method the model cannot serve (the GAN has no encoder)."""


def train(config, workdir, data=None, overwrite=False, verbose=None):
    """Trains the model `config` describes and fills `workdir`.

    The same run as `train.py` (workdir, resume, metrics, summary).

    Args:
        config: a `kerasae.Config`.
        workdir: the run's folder.
        data: None to read `config.data.dataset`, or data held in memory:
            an array of examples, an `(x, y)` pair of arrays, or a batched
            `tf.data.Dataset` of examples or `(x, y)` pairs. It is kept in
            the workdir (`data.npz`) for resuming, evaluation and export.
        overwrite: replace a previous run in `workdir`.
        verbose: Keras `fit` verbosity (None: a progress bar on a terminal).

    Returns:
        The metrics written to `metrics.json`.

    Raises:
        KerasaeError: bad config, data or workdir (one-line message).
    """
    return loop.train(config, workdir, overwrite=overwrite, verbose=verbose,
                      data=data)


def load(workdir):
    """Loads a trained run for use from Python.

    Raises:
        WorkdirError: `workdir` holds no trained model, is being written,
            or holds a damaged file (named, with what to do).
    """
    return Run(workdir)


class Run:
    """A trained run: model, config, preprocessing, metrics, threshold.

    Args:
        workdir: a workdir `kerasae.train` or `train.py` filled.
        batch_size: examples per call to the model.

    Attributes:
        workdir, config, model, preprocessing: what training wrote.
        metrics: `metrics.json` (None before training finished).
        threshold: the calibrated anomaly threshold (None before
            `python -m kerasae.evaluate` has written `threshold.json`).
        score_name: the anomaly score `score` computes.
    """

    def __init__(self, workdir, batch_size=512):
        self.workdir = workdir
        self.batch_size = int(batch_size)
        # A reader, like export: a workdir being written is refused.
        with lock.reading(workdir):
            self.config, self.model, self.preprocessing = \
                wd.load_run(workdir)
            self.metrics = wd.read_json(workdir, wd.METRICS)
            scoring = saved_model.read_scoring(workdir, self.model)
        self.threshold = None if scoring is None else scoring["threshold"]
        self.score_name = (scoring or {}).get(
            "score") or kae_endpoints.score_name(self.model)
        self._functions = {
            name: fn for name, (fn, _) in kae_endpoints.endpoints(
                self.model, self.preprocessing, self.threshold,
                None if scoring is None else scoring["score"],
                None if scoring is None else scoring["params"]).items()}

    def __repr__(self):
        return (f"Run({self.workdir!r}: {self.config.model.name} on "
                f"{self.config.data.dataset})")

    # ------------------------------------------------------------ calls
    def _function(self, name, why):
        if name not in self._functions:
            raise UnsupportedError(
                f"a {self.config.model.name} model cannot {why}")
        return self._functions[name]

    def _labels(self, labels, n, encoder=False):
        needed = self.model.encoder_uses_labels if encoder else \
            self.model.uses_labels
        if not needed:
            if labels is not None:
                raise UnsupportedError(
                    f"a {self.config.model.name} model "
                    f"{'encodes' if encoder else 'decodes'} without labels "
                    "(labels go to a supervised aae's decoder and to a "
                    "conditional vae)")
            return None
        if labels is None:
            raise KerasaeError(
                f"this {self.config.model.name} model "
                f"{'encodes (x' if encoder else 'decodes (code'}, label): "
                "pass labels=, one int per example")
        labels = np.asarray(labels, np.int32).reshape(-1)
        if len(labels) != n:
            raise KerasaeError(
                f"labels: {len(labels)} given for {n} examples; give one "
                "per example")
        return labels

    def _batched(self, fn, inputs, labels, key):
        n = len(inputs)
        out = []
        for i in range(0, n, self.batch_size):
            args = [tf.constant(inputs[i:i + self.batch_size])]
            if labels is not None:
                args.append(tf.constant(labels[i:i + self.batch_size]))
            out.append(np.asarray(fn(*args)[key]))
        return np.concatenate(out) if out else np.zeros((0,), np.float32)

    def _inputs(self, x):
        x = np.asarray(x)
        shape = tuple(self.config.model.input_shape)
        if x.shape[1:] != shape:
            if x.shape == shape:
                x = x[None]
            elif x.ndim == len(shape) and shape[-1] == 1 and \
                    x.shape[1:] == shape[:-1]:
                x = x[..., None]  # (n, h, w) images of a (h, w, 1) model
            else:
                raise KerasaeError(
                    f"x has shape {x.shape}, but the model takes examples "
                    f"of shape {shape}: pass an array (n, "
                    f"{', '.join(map(str, shape))})")
        return x.astype(np.float32)

    def encode(self, x, labels=None):
        """Codes of raw examples `x` (the VAE's posterior mean); a
        conditional VAE also takes the `labels`."""
        x = self._inputs(x)
        fn = self._function("encode", "encode: it has no encoder")
        return self._batched(fn, x, self._labels(labels, len(x), True),
                             "code")

    def classify(self, x):
        """Class probabilities q(y|x) of raw examples `x`, (n, K): over
        the classes of a semi-supervised aae, the clusters of a
        clustering one (the SavedModel's `classify` signature)."""
        x = self._inputs(x)
        fn = self._function(
            "classify", "classify: it has no categorical code (use "
            "--model=aae --aae_mode=semi_supervised or clustering)")
        if not len(x):
            return np.zeros((0, self.model.categories), np.float32)
        return self._batched(fn, x, None, "probabilities")

    def reconstruct(self, x, labels=None):
        """Reconstructions of raw examples `x`, in raw units."""
        x = self._inputs(x)
        fn = self._function("serving_default",
                            "reconstruct: it has no encoder")
        return self._batched(fn, x, self._labels(labels, len(x)),
                             "reconstruction")

    def decode(self, codes, labels=None):
        """Raw-unit outputs for codes (n, latent_dim)."""
        codes = np.asarray(codes, np.float32)
        return self._batched(self._functions["decode"], codes,
                             self._labels(labels, len(codes)),
                             "reconstruction")

    def score(self, x, labels=None):
        """Anomaly scores of raw examples (`score_name`; higher: more
        anomalous)."""
        x = self._inputs(x)
        fn = self._function("score", "score: it has no encoder")
        return self._batched(fn, x, self._labels(labels, len(x)), "score")

    def is_anomaly(self, x, labels=None):
        """Whether each score is above the calibrated threshold.

        Raises:
            UnsupportedError: no threshold yet (run evaluation first).
        """
        if self.threshold is None:
            raise UnsupportedError(
                f"{self.workdir} has no anomaly threshold yet: run python "
                f"-m kerasae.evaluate --workdir={self.workdir} first")
        x = self._inputs(x)
        fn = self._function("score", "score: it has no encoder")
        return self._batched(fn, x, self._labels(labels, len(x)),
                             "is_anomaly").astype(bool)

    def sample(self, n=None, seed=0, labels=None):
        """New examples in raw units, drawn from the prior.

        Args:
            n: how many (label-conditioned models: one per label).
            seed: the same seed gives the same samples, as in the
                SavedModel's `sample` signature.
            labels: for a supervised aae or a conditional vae, the label
                of each sample.
        """
        fn = self._function(
            "sample", "sample: it is not generative (vae, aae and gan are)")
        seed = tf.constant(int(seed), tf.int32)
        if self.model.uses_labels:
            labels = self._labels(labels, len(np.reshape(labels, -1))
                                  if labels is not None else 0)
            return np.asarray(fn(tf.constant(labels), seed)["samples"])
        if labels is not None:
            self._labels(labels, 0)
        if n is None or int(n) < 1:
            raise KerasaeError(f"sample: n={n}; give a number of samples "
                               ">= 1")
        return np.asarray(fn(tf.constant(int(n), tf.int32), seed)["samples"])
