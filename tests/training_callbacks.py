"""Keras callbacks the training tests (and their subprocess workers) use."""

import keras


class StopAfter(keras.callbacks.Callback):
    """Simulates an interruption after `epochs` finished epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.stop_after = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.stop_after:
            raise KeyboardInterrupt("simulated interruption")


class CountEpochs(keras.callbacks.Callback):
    """Records the index of every epoch that starts."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
