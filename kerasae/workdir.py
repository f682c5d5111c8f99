"""The files of a training workdir, and the rules for reusing one.

A workdir holds one run: `config.json` (the resolved `Config`),
`preprocessing.json` (raw -> model-space map), `backup/` (the state a
killed run resumes from, `kerasae.training.resume`), `checkpoints/` (the last
few epochs' weights and the best), `logs/` (TensorBoard), `history.csv`,
`model.keras` and `metrics.json`; evaluation adds `threshold.json`,
`plots/` and `report.html`. Re-running the same command resumes; a
different config is refused. `.lock` (`kerasae.lock`) marks the one
process writing it.

Evaluation, export and `kerasae.load` read a finished run back through
`load_run`, so none of them imports training. A run trained on arrays
passed from Python keeps them here (`data.npz`); `data_config` points the
data loader at them.

Every reader of a workdir goes through the functions here (`read_json`,
`read_config`, `read_preprocessing`, `load_model`, `check_weights`), so a
damaged or foreign file is refused with one line that names it and says
what to do, never a traceback from deep inside Keras or HDF5.
"""

import dataclasses
import json
import os
import shutil
import zipfile

from kerasae.errors import KerasaeError
from kerasae.errors import WorkdirError

CONFIG = "config.json"
PREPROCESSING = "preprocessing.json"
MODEL = "model.keras"
METRICS = "metrics.json"
HISTORY = "history.csv"
BACKUP = "backup"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
THRESHOLD = "threshold.json"  # written by `kerasae.evaluate`
PLOTS = "plots"  # written by `kerasae.evaluate`
REPORT = "report.html"  # written by `kerasae.evaluate`
# Arrays passed to `kerasae.train(..., data=...)`, kept for evaluation,
# export and resuming, and the `--dataset` such a run records.
ARRAYS = "data.npz"
ARRAYS_DATASET = "<arrays>"
# Everything a run and its evaluation write; `--overwrite` removes exactly
# these (and their `.tmp` leftovers), never the lock file `.lock`.
OUTPUTS = (CONFIG, PREPROCESSING, MODEL, METRICS, HISTORY, BACKUP,
           CHECKPOINTS, LOGS, ARRAYS, THRESHOLD, PLOTS, REPORT)

# What to do about a damaged file, by name: the end of the one-line error.
_RETRAIN = "train again with --overwrite (or use another --workdir)"
FIXES = {
    CONFIG: _RETRAIN,
    PREPROCESSING: _RETRAIN,
    MODEL: _RETRAIN,
    METRICS: ("delete it and run python -m kerasae.evaluate on this "
              "workdir, or " + _RETRAIN),
    THRESHOLD: ("delete it, or recompute it with python -m "
                "kerasae.evaluate on this workdir"),
    BACKUP: (f"delete the folder {BACKUP}/ to restart this run from "
             "epoch 1, or " + _RETRAIN),
    CHECKPOINTS: "delete that file (the run resumes from backup/)",
}


def path(workdir, name):
    """Returns the path of `name` inside `workdir`."""
    return os.path.join(workdir, name)


def damaged(target, reason, name=None):
    """The `WorkdirError` for a damaged file: names it, says what to do.

    Args:
        target: the file's path.
        reason: what is wrong, short.
        name: the key of `FIXES` (default: the file's base name).
    """
    fix = FIXES.get(name or os.path.basename(target), _RETRAIN)
    return WorkdirError(f"{target} is damaged or not kerasae's ({reason}); "
                        f"{fix}")


def _first_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def read_json(workdir, name, kind=dict, fix=None):
    """Returns the parsed JSON file `name`, or None when it is absent.

    Args:
        workdir: the run's folder.
        name: file name inside it (may include a folder, e.g. `backup/x`).
        kind: the type the top-level value must have (None: any).
        fix: the key of `FIXES` for the error (default: `name`).

    Raises:
        WorkdirError: the file is not JSON (truncated, binary) or its top
            level is not a `kind`.
    """
    target = path(workdir, name)
    if not os.path.exists(target):
        return None
    try:
        with open(target, encoding="utf-8") as handle:
            value = json.load(handle)
    except (ValueError, OSError) as error:  # JSON and UTF-8 errors
        raise damaged(target, _first_line(error), fix or name) from None
    if kind is not None and not isinstance(value, kind):
        raise damaged(target, f"holds a JSON {type(value).__name__}, not "
                      f"a {kind.__name__}", fix or name)
    return value


def read_config(workdir):
    """The `Config` in `config.json`, or None when there is none.

    Raises:
        WorkdirError: the file is damaged, or written by another program
            or kerasae version (unknown fields).
    """
    from kerasae import config as kae_config
    value = read_json(workdir, CONFIG)
    if value is None:
        return None
    try:
        return kae_config.Config.from_dict(value)
    except (KerasaeError, TypeError, ValueError, AttributeError) as error:
        raise damaged(path(workdir, CONFIG), _first_line(error)) from None


def read_preprocessing(workdir):
    """The `Preprocessing` in `preprocessing.json`, or None.

    Raises:
        WorkdirError: the file is damaged or lacks `offset` and `scale`.
    """
    from kerasae.data import preprocessing
    value = read_json(workdir, PREPROCESSING)
    if value is None:
        return None
    try:
        result = preprocessing.Preprocessing.from_dict(value)
        result.invert(0.0)  # numbers, not strings
        return result
    except (KeyError, TypeError, ValueError) as error:
        raise damaged(path(workdir, PREPROCESSING),
                      _first_line(error)) from None


def load_model(workdir):
    """Loads `model.keras` (the final model) of `workdir`.

    Raises:
        WorkdirError: no such file, or it is not a Keras archive (a
            truncated copy, another file renamed), or holds a model
            kerasae cannot rebuild.
    """
    import keras

    import kerasae.models  # noqa: F401  (registers the model classes)
    from kerasae.models.base import ConfiguredModel
    target = path(workdir, MODEL)
    if not os.path.exists(target):
        raise WorkdirError(
            f"--workdir={workdir} holds no trained model (no {MODEL}); run "
            "train.py with this --workdir first")
    if not zipfile.is_zipfile(target):
        raise damaged(target, "not a .keras zip archive; truncated?")
    try:
        model = keras.saving.load_model(target)
    except Exception as error:  # Keras raises many kinds; all mean this
        raise damaged(target, _first_line(error)) from None
    if not isinstance(model, ConfiguredModel):
        raise damaged(target, f"a {type(model).__name__}, not a kerasae "
                      "model")
    return model


def check_weights(target, fix):
    """Checks that `target` is a complete HDF5 weights file.

    HDF5 stores the file's end address in its superblock, so opening a
    truncated file fails at once.

    Raises:
        WorkdirError: it cannot be opened as HDF5.
    """
    import h5py
    try:
        with h5py.File(target, "r") as handle:
            handle.keys()
    except Exception as error:  # h5py raises OSError, ValueError, ...
        raise damaged(target, _first_line(error), fix) from None


def write_json(workdir, name, value):
    """Writes `value` as JSON atomically (temporary file, then rename)."""
    target = path(workdir, name)
    temporary = target + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, target)


def config_differences(old, new, prefix=""):
    """Lists `key: old -> new` for every leaf where two dicts differ.

    A key `old` lacks is a field added since the run was written (the
    new default then describes how it resumes, e.g. `matmul_precision`),
    not a difference.
    """
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            continue
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict) and a and b:
            changes += config_differences(a, b, name + ".")
        elif a != b:
            changes.append(f"{name}: {a!r} -> {b!r}")
    return changes


def remove_outputs(workdir):
    """Removes everything a run and its evaluation wrote (`OUTPUTS`).

    The lock file stays: the caller holds it.
    """
    for name in os.listdir(workdir):
        base = name.split(".tmp", 1)[0] if ".tmp" in name else name
        if name not in OUTPUTS and base not in OUTPUTS:
            continue
        target = path(workdir, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        else:
            os.remove(target)


def disk_usage(workdir):
    """Bytes the files under `workdir` take."""
    total = 0
    for folder, _, files in os.walk(workdir):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass  # removed while walking
    return total


def human_size(size):
    """`1536` -> `1.5 KB` (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" \
                else f"{size:.1f} {unit}"
        size /= 1024


def prepare(workdir, config_dict, overwrite=False):
    """Checks `workdir` against the run about to start.

    Args:
        workdir: the run's folder (created when missing).
        config_dict: the resolved config, as `Config.to_dict()`.
        overwrite: remove a previous run's outputs first.

    Returns:
        "new", "resume" (same config, unfinished) or "finished" (same
        config, `model.keras` and `metrics.json` present).

    Raises:
        WorkdirError: the workdir holds a run with another config, or is a
            file, or cannot be written.
    """
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(
            f"--workdir={workdir} is a file; give a folder path")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as error:
        raise WorkdirError(
            f"--workdir={workdir} cannot be created ({error.strerror}); "
            "choose a writable folder"
        ) from error
    if not os.access(workdir, os.W_OK):
        raise WorkdirError(
            f"--workdir={workdir} is not writable; choose another folder")
    if overwrite:
        remove_outputs(workdir)
        return "new"
    previous = read_json(workdir, CONFIG)
    if previous is None:
        return "new"
    changes = config_differences(previous, config_dict)
    if changes:
        shown = "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")
        raise WorkdirError(
            f"--workdir={workdir} holds a run with another config ({shown}); "
            "use a new --workdir, or pass --overwrite to replace that run"
        )
    finished = all(
        os.path.exists(path(workdir, name)) for name in (MODEL, METRICS))
    return "finished" if finished else "resume"


def metrics_record(config, split, examples, results, **extra):
    """What `metrics.json` holds after training: the run's identity and
    the final `results` on the split called `split`.

    Args:
        config: the run's `Config`.
        split: `test`, or `validation` when there is no test split.
        examples: how many examples `results` were computed on.
        results: metric name -> value.
        **extra: more top-level keys (e.g. `data_path`).
    """
    return {
        "model": config.model.name,
        "dataset": config.data.dataset,
        "epochs": config.train.epochs,
        "seed": config.train.seed,
        "eval_split": split,
        "num_examples": int(examples),
        **extra,
        split: results,
    }


def load_run(workdir):
    """Loads a finished run: (config, model, preprocessing).

    Raises:
        WorkdirError: `workdir` holds no trained model, or a damaged or
            foreign config.json, model.keras or preprocessing.json.
    """
    if not os.path.exists(path(workdir, CONFIG)) or \
            not os.path.exists(path(workdir, MODEL)):
        raise WorkdirError(
            f"--workdir={workdir} holds no trained model (no config.json "
            "and model.keras); run train.py with this --workdir first")
    config = read_config(workdir)
    pre = read_preprocessing(workdir)
    if pre is None:
        raise WorkdirError(f"{path(workdir, PREPROCESSING)} is missing; "
                           f"{FIXES[PREPROCESSING]}")
    return config, load_model(workdir), pre


def data_config(config, workdir):
    """`config.data` with a run's kept arrays (`data.npz`) as its dataset;
    other datasets are returned unchanged.

    Raises:
        WorkdirError: the run was trained on arrays and `data.npz` is gone.
    """
    data = config.data
    if data.dataset != ARRAYS_DATASET:
        return data
    kept = path(workdir, ARRAYS)
    if not os.path.exists(kept):
        raise WorkdirError(
            f"{workdir} was trained on arrays passed from Python, kept in "
            f"{kept}, which is missing: train again with "
            "kerasae.train(config, workdir, data=...)")
    return dataclasses.replace(data, dataset=kept)
