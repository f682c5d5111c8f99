"""Reading a finished run back from its workdir: `load_run`.

Training writes the workdir; evaluation, export and `kerasae.load` read it
through this one function, so none of them imports training. A run trained
on arrays passed from Python (`kerasae.train(..., data=...)`) keeps them in
the workdir (`data.npz`), so it can be evaluated and exported like any
other; `data_config` points the data loader at them.
"""

import dataclasses
import os

import keras

from kerasae import config as kae_config
from kerasae import data as kae_data

# Importing the models registers their classes for deserialisation.
from kerasae import models  # noqa: F401
from kerasae import workdir as wd
from kerasae.errors import WorkdirError


def load_run(workdir):
    """Loads a finished run: (config, model, preprocessing).

    Raises:
        WorkdirError: `workdir` holds no trained model.
    """
    config_dict = wd.read_json(workdir, wd.CONFIG)
    model_path = wd.path(workdir, wd.MODEL)
    if config_dict is None or not os.path.exists(model_path):
        raise WorkdirError(
            f"--workdir={workdir} holds no trained model (no config.json "
            "and model.keras); run train.py with this --workdir first")
    config = kae_config.Config.from_dict(config_dict)
    model = keras.saving.load_model(model_path)
    pre = kae_data.Preprocessing.from_dict(
        wd.read_json(workdir, wd.PREPROCESSING))
    return config, model, pre


def data_config(config, workdir):
    """`config.data` with a run's kept arrays (`data.npz`) as its dataset.

    Other datasets are returned unchanged.

    Raises:
        WorkdirError: the run was trained on arrays and `data.npz` is gone.
    """
    data = config.data
    if data.dataset != kae_data.ARRAYS:
        return data
    path = wd.path(workdir, wd.ARRAYS)
    if not os.path.exists(path):
        raise WorkdirError(
            f"{workdir} was trained on arrays passed from Python, kept in "
            f"{path}, which is missing: train again with "
            "kerasae.train(config, workdir, data=...)")
    return dataclasses.replace(data, dataset=path)
