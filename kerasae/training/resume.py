"""What a killed run resumes from, and the checkpoints it keeps.

A run may be killed at any instant (SIGKILL, a pre-empted job). The
re-run of the same command must then end with exactly the numbers of an
uninterrupted run. Four things make sure of that:

- `Backup` writes the resume state in a commit order: the weights (model
  and optimizers) go to a new file `backup/epoch-NNNN.weights.h5`, then
  `backup/training_metadata.json`, which names that file, is replaced
  atomically. A kill at any point leaves the previous, complete state.
  The metadata also holds the random generators' states (the VAE's
  sampling noise), which Keras's weight files leave out.
  (Keras's `BackupAndRestore` overwrites one weights file and then the
  metadata: a kill between the two resumes one epoch's weights with
  another epoch's count.)
- `trim_history` cuts `history.csv` back to the epochs the backup holds,
  so each epoch appears once however often the run was killed.
- `DataPosition` tells the input pipeline which epoch starts, so the data
  order after a resume is the uninterrupted run's
  (`kerasae.data.Split.dataset`'s `position`), in memory or streamed.
- `RetainedCheckpoints` keeps the last `keep` epochs' weights and the best
  by validation loss, written under a temporary name and renamed, so the
  disk a run uses stays bounded.

`check(workdir)` refuses a damaged backup or checkpoint before a resumed
run writes anything.
"""

import csv
import math
import os
import re

import keras

from kerasae import workdir as wd

METADATA = "training_metadata.json"
_CHECKPOINT = re.compile(r"^epoch-(\d+)\.weights\.h5$")


# ------------------------------------------------------------ the backup
def read_backup(workdir):
    """The backup's state, `{"epoch": int, "weights": path}`, or None.

    Raises:
        WorkdirError: the metadata is damaged, or names weights that are
            missing or truncated.
    """
    name = os.path.join(wd.BACKUP, METADATA)
    state = wd.read_json(workdir, name, fix=wd.BACKUP)
    if state is None:
        return None
    target = wd.path(workdir, name)
    epoch = state.get("epoch")
    # Keras's own `BackupAndRestore` wrote `latest.weights.h5`.
    weights = state.get("weights", "latest.weights.h5")
    if not isinstance(epoch, int) or epoch < 0 or not isinstance(
            weights, str) or os.sep in weights:
        raise wd.damaged(target, "no epoch count and weights file",
                         wd.BACKUP)
    weights = wd.path(wd.path(workdir, wd.BACKUP), weights)
    if not os.path.exists(weights):
        raise wd.damaged(target, f"names {os.path.basename(weights)}, "
                         "which is missing", wd.BACKUP)
    wd.check_weights(weights, wd.BACKUP)
    return {"epoch": epoch, "weights": weights}


def check(workdir):
    """Checks what a resumed run reads; returns the epoch it resumes at.

    Raises:
        WorkdirError: a damaged backup or checkpoint, naming the file.
    """
    folder = wd.path(workdir, wd.CHECKPOINTS)
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if _CHECKPOINT.match(name):
                wd.check_weights(os.path.join(folder, name), wd.CHECKPOINTS)
    state = read_backup(workdir)
    return 0 if state is None else state["epoch"]


class Backup(keras.callbacks.Callback):
    """Restores the backup when training begins, and (when `write`)
    writes it after every epoch; see the module docstring.

    A non-chief worker of a multi-worker run passes `write=False`: every
    worker must restore the chief's backup, or they resume at different
    epochs, but only the chief writes.
    """

    def __init__(self, workdir, write=True):
        super().__init__()
        self.workdir = workdir
        self.folder = wd.path(workdir, wd.BACKUP)
        self.write = write

    def on_train_begin(self, logs=None):
        state = read_backup(self.workdir)
        if state is None:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            # The optimizer's slots must exist before they are loaded.
            optimizer.build(self.model.trainable_variables)
        # The weights file holds the random stream's state too
        # (`ConfiguredModel.save_own_variables`).
        self.model.load_weights(state["weights"])
        self.model._initial_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        os.makedirs(self.folder, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        self.model.save_weights(os.path.join(self.folder, name),
                                overwrite=True)
        # The commit point: until this rename the old state stands.
        wd.write_json(self.workdir, os.path.join(wd.BACKUP, METADATA),
                      {"epoch": epoch + 1, "batch": 0, "weights": name})
        for other in os.listdir(self.folder):
            if other.endswith(".weights.h5") and other != name:
                os.remove(os.path.join(self.folder, other))


# ------------------------------------------------------- history.csv
def trim_history(workdir, epochs):
    """Keeps the rows of `history.csv` for epochs below `epochs`.

    Rows of epochs a killed run finished after its last backup, and a
    row cut off by the kill, are dropped: the resumed run writes them
    again. Rewritten atomically.
    """
    target = wd.path(workdir, wd.HISTORY)
    if not os.path.exists(target):
        return
    with open(target, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    header, kept = rows[0], [rows[0]]
    for row in rows[1:]:
        try:
            epoch = int(row[0])
        except (ValueError, IndexError):
            continue
        if len(row) == len(header) and epoch < epochs:
            kept.append(row)
    if len(kept) == len(rows):
        return
    temporary = target + ".tmp"
    with open(temporary, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(kept)
    os.replace(temporary, target)


# ------------------------------------------------------------ the data
class DataPosition(keras.callbacks.Callback):
    """Sets the pipeline's `position` variable when an epoch begins.

    Args:
        position: the int64 `tf.Variable` given to `make_dataset`.
        steps: batches per epoch (`steps_per_epoch`, or the batches of
            one pass over the data).
    """

    def __init__(self, position, steps):
        super().__init__()
        self.position = position
        self.steps = steps

    def on_epoch_begin(self, epoch, logs=None):
        self.position.assign(epoch * self.steps)


# ----------------------------------------------------------- checkpoints
class RetainedCheckpoints(keras.callbacks.Callback):
    """Weights after each epoch in `checkpoints/epoch-NNN.weights.h5`,
    keeping the last `keep` and the best by `monitor` (lowest), so at
    most `keep + 1` files.

    Without `monitor` in the logs (no validation data) only the last
    `keep` stay. The losses of earlier epochs of a resumed run come from
    `history.csv` (trimmed to the backup first).
    """

    def __init__(self, workdir, keep, monitor="val_loss"):
        super().__init__()
        self.folder = wd.path(workdir, wd.CHECKPOINTS)
        self.history = wd.path(workdir, wd.HISTORY)
        self.keep = keep
        self.monitor = monitor
        self.losses = {}

    def on_train_begin(self, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        for name in os.listdir(self.folder):
            if ".tmp" in name:  # a save cut short by a kill
                os.remove(os.path.join(self.folder, name))
        if os.path.exists(self.history):
            with open(self.history, newline="") as handle:
                for row in csv.DictReader(handle):
                    try:
                        self.losses[int(row["epoch"]) + 1] = float(
                            row[self.monitor])
                    except (KeyError, TypeError, ValueError):
                        pass

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        target = os.path.join(self.folder, f"epoch-{number:03d}.weights.h5")
        temporary = target[:-len(".weights.h5")] + ".tmp.weights.h5"
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, target)
        value = (logs or {}).get(self.monitor)
        if value is not None:
            self.losses[number] = float(value)
        self.prune()

    def prune(self):
        """Removes every checkpoint but the last `keep` and the best."""
        saved = sorted(
            int(m.group(1)) for m in map(_CHECKPOINT.match,
                                         os.listdir(self.folder)) if m)
        kept = set(saved[-self.keep:])
        scored = [e for e in saved if math.isfinite(
            self.losses.get(e, math.nan))]
        if scored:
            kept.add(min(scored, key=lambda e: (self.losses[e], -e)))
        for number in saved:
            if number not in kept:
                os.remove(os.path.join(
                    self.folder, f"epoch-{number:03d}.weights.h5"))
