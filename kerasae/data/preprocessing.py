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


def fit(scaling, train_x):
    """Builds the `Preprocessing` for a scaling rule.

    Args:
        scaling: one of `SCALINGS`.
        train_x: raw training examples, shape `(n, *input_shape)`; only used
            by `standardize`.

    Returns:
        A `Preprocessing`.
    """
    if scaling == PIXELS:
        return Preprocessing(offset=0.0, scale=255.0)
    if scaling == IDENTITY:
        return Preprocessing(offset=0.0, scale=1.0)
    if scaling == STANDARDIZE:
        return standardize(train_x)
    raise ValueError(f"unknown scaling {scaling!r}; expected one of {SCALINGS}")


def standardize(train_x):
    """Per-feature mean and standard deviation of the training examples.

    Args:
        train_x: raw training examples, shape `(n, *input_shape)`, n >= 1.

    Returns:
        A `Preprocessing` whose offset and scale have shape `input_shape`.
    """
    # float64 sums: float32 loses digits on large columns (e.g. 1e6 + noise).
    x = np.asarray(train_x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    # A constant feature has std 0 (or a rounding residue of ~1e-16 that
    # would blow it up); `ptp == 0` finds it exactly, and scale 1 maps it to 0.
    std = np.where(np.ptp(x, axis=0) == 0, 1.0, std)
    return Preprocessing(offset=mean, scale=std)


def scaling_for_array(x):
    """Chooses the scaling rule of a user's NumPy array from its values.

    Args:
        x: the whole raw array (all examples, before any split), so the
            choice does not depend on the seed.

    Returns:
        `pixels` for `uint8`, `identity` for values within [0, 1],
        `standardize` otherwise.
    """
    if x.dtype == np.uint8:
        return PIXELS
    if x.size and float(x.min()) >= 0.0 and float(x.max()) <= 1.0:
        return IDENTITY
    return STANDARDIZE
