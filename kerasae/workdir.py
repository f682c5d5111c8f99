"""The files of a training workdir, and the rules for reusing one.

A workdir holds one run: `config.json` (the resolved `Config`),
`preprocessing.json` (raw -> model-space map), `backup/` (Keras
`BackupAndRestore` state while training), `checkpoints/`, `logs/`
(TensorBoard), `history.csv`, `model.keras` and `metrics.json`.
Re-running the same command resumes; a different config is refused.
"""

import json
import os
import shutil

from kerasae.errors import WorkdirError

CONFIG = "config.json"
PREPROCESSING = "preprocessing.json"
MODEL = "model.keras"
METRICS = "metrics.json"
HISTORY = "history.csv"
BACKUP = "backup"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
# Arrays passed to `kerasae.train(..., data=...)`, kept for evaluation,
# export and resuming.
ARRAYS = "data.npz"
# Everything a run writes; `--overwrite` removes exactly these.
OUTPUTS = (CONFIG, PREPROCESSING, MODEL, METRICS, HISTORY, BACKUP,
           CHECKPOINTS, LOGS, ARRAYS)


def path(workdir, name):
    """Returns the path of `name` inside `workdir`."""
    return os.path.join(workdir, name)


def read_json(workdir, name):
    """Returns the parsed JSON file `name`, or None when it is absent."""
    target = path(workdir, name)
    if not os.path.exists(target):
        return None
    with open(target) as handle:
        return json.load(handle)


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
        for name in OUTPUTS:
            target = path(workdir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
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
