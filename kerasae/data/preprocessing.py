"""The affine map between raw data and the space the model sees.

Every source ends up as `x_model = (x_raw - offset) / scale`:

- pixels (TFDS images, image folders, `uint8` arrays): offset 0, scale 255,
  so model-space values lie in [0, 1];
- float arrays already within [0, 1]: the identity;
- tabular data (CSV, other arrays): standardized per feature with the mean
  and standard deviation of the training split only, so validation and test
  examples never leak into the statistics.

The map is stored with the model (`to_dict` / `from_dict`) so exported
models and evaluation can go back to raw units with `invert`.
"""

import dataclasses

import numpy as np

PIXELS = "pixels"
IDENTITY = "identity"
STANDARDIZE = "standardize"
SCALINGS = (PIXELS, IDENTITY, STANDARDIZE)


@dataclasses.dataclass(eq=False)
class Preprocessing:
    """Affine map raw -> model space: `x_model = (x_raw - offset) / scale`.

    Attributes:
        offset: float32, broadcastable to one example's shape (shape `()` for
            pixels, `(n_features,)` for tabular data).
        scale: float32, same shape as `offset`; never 0 (constant features
            get scale 1).
    """

    offset: np.ndarray
    scale: np.ndarray

    def __post_init__(self):
        self.offset = np.asarray(self.offset, dtype=np.float32)
        self.scale = np.asarray(self.scale, dtype=np.float32)
        if np.any(self.scale == 0):
            raise ValueError("Preprocessing.scale must not contain 0")

    def apply(self, x_raw):
        """Maps raw values to model space.

        Args:
            x_raw: array of raw examples, shape `(n, *input_shape)`.

        Returns:
            float32 array of the same shape.
        """
        x = np.asarray(x_raw, dtype=np.float32)
        return ((x - self.offset) / self.scale).astype(np.float32)

    def invert(self, x_model):
        """Maps model-space values (e.g. reconstructions) back to raw units.

        Args:
            x_model: array in model space.

        Returns:
            float32 array of the same shape in raw units.
        """
        x = np.asarray(x_model, dtype=np.float32)
        return (x * self.scale + self.offset).astype(np.float32)

    def to_dict(self):
        """Returns `{"offset": ..., "scale": ...}` as JSON-able lists."""
        return {"offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, value):
        """Builds a `Preprocessing` from `to_dict` output."""
        return cls(offset=value["offset"], scale=value["scale"])

    def __eq__(self, other):
        if not isinstance(other, Preprocessing):
            return NotImplemented
        return (np.array_equal(self.offset, other.offset)
                and np.array_equal(self.scale, other.scale))


class Moments:
    """Count, mean, sum of squared deviations, min and max per element,
    merged batch by batch in float64 (Chan, Golub and LeVeque 1979), so a
    split held in memory and the same split streamed give the same
    figures within float rounding."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.low, self.high = np.inf, -np.inf

    def add(self, x):
        """Adds a batch `(n, *shape)`."""
        if not len(x):
            return
        x = np.asarray(x, np.float64)
        n, mean = len(x), x.mean(axis=0)
        total = self.n + n
        delta = mean - self.mean
        self.m2 = self.m2 + np.square(x - mean).sum(axis=0) + \
            np.square(delta) * (self.n * n / total)
        self.mean = self.mean + delta * (n / total)
        self.low = np.minimum(self.low, x.min(axis=0))
        self.high = np.maximum(self.high, x.max(axis=0))
        self.n = total

    @classmethod
    def of(cls, batches):
        """The moments of an iterable of batches."""
        moments = cls()
        for x in batches:
            moments.add(x)
        return moments


def fit(scaling, raw_batches=None):
    """The `Preprocessing` of a scaling rule, and the model-space range.

    Args:
        scaling: one of `SCALINGS`.
        raw_batches: callable returning an iterable of raw training
            batches; read (once) only by `standardize` and `identity`.

    Returns:
        `(preprocessing, (low, high))`: `low` and `high` bound the
        model-space training data ((0, 1) for pixels).
    """
    if scaling == PIXELS:
        return Preprocessing(offset=0.0, scale=255.0), (0.0, 1.0)
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r}; expected one of "
                         f"{SCALINGS}")
    m = Moments.of(raw_batches())
    if scaling == IDENTITY:
        prep = Preprocessing(offset=0.0, scale=1.0)
    else:
        # A constant feature (`low == high`, exactly) gets scale 1, which
        # maps it to 0; its std is 0 or a rounding residue.
        std = np.where(m.high == m.low, 1.0, np.sqrt(m.m2 / max(m.n, 1)))
        prep = Preprocessing(offset=m.mean, scale=std)
    offset = prep.offset.astype(np.float64)
    low = np.min((m.low - offset) / prep.scale)
    high = np.max((m.high - offset) / prep.scale)
    return prep, (float(low), float(high))


def standardize(train_x):
    """Per-feature mean and standard deviation of `train_x` (raw training
    examples, `(n, *shape)`), as a `Preprocessing`."""
    return fit(STANDARDIZE, lambda: [train_x])[0]
