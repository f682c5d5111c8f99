"""kerasae: train, evaluate and deploy autoencoders with TensorFlow/Keras.

The Python API (docs/python.md):

    import kerasae
    config = kerasae.Config(model=kerasae.ModelConfig(name="vae"))
    kerasae.train(config, "runs/vae", data=(x, y))   # or a dataset name
    run = kerasae.load("runs/vae")
    codes = run.encode(x)

Importing `kerasae` registers every serializable class (models, layers,
priors, the optimizer), so `keras.saving.load_model("RUN/model.keras")`
works in a fresh process.
"""

# Registration: each of these modules registers its Keras classes.
from kerasae import models  # noqa: F401  (models, layers, priors)
from kerasae.api import Run
from kerasae.api import UnsupportedError
from kerasae.api import load
from kerasae.api import train
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import KerasaeError
from kerasae.training import optimizers  # noqa: F401  (the fused Adam)

__version__ = "0.1.0"

__all__ = [
    "Config", "DataConfig", "KerasaeError", "ModelConfig", "Run",
    "TrainConfig", "UnsupportedError", "load", "train",
]
