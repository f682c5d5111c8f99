"""Training schedules of the likelihood papers, as Keras callbacks.

- `iwae_learning_rate`: Burda et al. (2016), Section 5: stage i = 0..7 runs
  3^i epochs at learning rate 1e-3 * 10^(-i/7), 3,280 epochs in all. Given
  fewer epochs the stages keep their shares (3^i / 3280) of the run, so
  the schedule has the same shape, shortened.
- `KLWarmup`: the KL weight rises linearly from 0 to its full value over
  the first epochs (Bowman et al. 2016, "KL cost annealing"; Sonderby et
  al. 2016, "warm-up"), set on the model's `kl_scale` variable.
- `initialize_output_bias`: the decoder's output bias set to the logit of
  the training mean (Burda et al. 2016, Section 5), so the model starts at
  the independent-pixel likelihood rather than at p = 0.5.
"""

import keras
import numpy as np

IWAE_STAGES = 8
_IWAE_EPOCHS = sum(3**i for i in range(IWAE_STAGES))  # 3280


def iwae_stage(epoch, epochs):
    """The stage (0..7) of `epoch` (0-based) in an `epochs`-long run."""
    ends = np.cumsum([3**i for i in range(IWAE_STAGES)]) / _IWAE_EPOCHS
    return int(min(np.searchsorted(ends * epochs, epoch, side="right"),
                   IWAE_STAGES - 1))


def iwae_learning_rate(epoch, epochs, base=1e-3):
    """Learning rate of `epoch` under Burda et al.'s schedule."""
    return base * 10.0 ** (-iwae_stage(epoch, epochs) / 7.0)


def callbacks(config, steps_per_epoch):
    """The schedule callbacks a `Config` asks for (possibly none).

    Args:
        config: a resolved `Config`.
        steps_per_epoch: training steps in one epoch (every split knows
            its size, streamed or not).
    """
    t, m = config.train, config.model
    result = []
    if t.lr_schedule == "iwae":
        result.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: iwae_learning_rate(epoch, t.epochs,
                                                 t.learning_rate)))
    if m.kl_warmup_epochs > 0:
        result.append(KLWarmup(m.kl_warmup_epochs * steps_per_epoch))
    return result


class KLWarmup(keras.callbacks.Callback):
    """Sets `model.kl_scale` to min(1, step / `steps`) before each call.

    With several steps per execution the weight moves once per call, i.e.
    in steps of `steps_per_execution` batches.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = float(max(steps, 1))

    def _set(self):
        step = float(keras.ops.convert_to_numpy(
            self.model.optimizer.iterations))
        self.model.kl_scale.assign(min(1.0, step / self.steps))

    def on_train_begin(self, logs=None):
        self._set()

    def on_train_batch_begin(self, batch, logs=None):
        self._set()


def initialize_output_bias(model, mean):
    """Sets the decoder's output bias to logit(`mean`), the training
    examples' mean per element (`DataBundle.train_mean`).

    The mean is taken per output element when the last layer has one bias
    per element (dense decoders), per channel otherwise (convolutions).
    Intensities are clipped to [1e-3, 1 - 1e-3] so the logits stay finite.

    Args:
        model: a model with a `decoder` whose last biased layer is the
            output.
        mean: the mean of each element of an example, in [0, 1].
    """
    layer = [lay for lay in model.decoder.layers
             if getattr(lay, "bias", None) is not None][-1]
    size = int(np.prod(layer.bias.shape))
    mean = np.asarray(mean, np.float64).reshape(-1)
    if mean.size != size:  # one bias per channel: each channel's mean
        mean = mean.reshape(-1, size).mean(axis=0)
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    layer.bias.assign(np.log(mean / (1 - mean)).astype("float32"))
