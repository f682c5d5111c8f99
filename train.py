"""Trains an autoencoder: absl flags -> `Config` -> `kerasae.training.train`.

    python train.py --model=vae --dataset=mnist --workdir=runs/vae

This script stays thin on purpose (as the Flax examples keep `main.py`):
the logic lives in the importable `kerasae` package, whose functions take
config objects, never flags.
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags
from absl import logging

from kerasae import config as kae_config
from kerasae import models
from kerasae import training
from kerasae.errors import KerasaeError
from kerasae.models import adversarial
from kerasae.models import priors

_M, _D, _T = kae_config.ModelConfig, kae_config.DataConfig, \
    kae_config.TrainConfig
FLAGS = flags.FLAGS

flags.DEFINE_enum("model", _M.name, models.MODELS.names(), "Model to train.")
flags.DEFINE_enum("arch", _M.arch, kae_config.ARCHS, "Encoder/decoder kind.")
flags.DEFINE_list("hidden_units", list(map(str, _M.hidden_units)),
                  "Hidden sizes (dense) or filters (conv), encoder side.")
flags.DEFINE_integer("latent_dim", _M.latent_dim, "Size of the code.")
flags.DEFINE_enum("reconstruction_loss", _M.reconstruction_loss,
                  kae_config.RECONSTRUCTION_LOSSES,
                  "bce (Bernoulli, data in [0,1]), mse, or auto.")
flags.DEFINE_string("activation", _M.activation, "Hidden activation.")
flags.DEFINE_enum("output_activation", _M.output_activation,
                  kae_config.OUTPUT_ACTIVATIONS, "Decoder output activation.")
flags.DEFINE_enum("noise", _M.noise, kae_config.NOISE_KINDS,
                  "dae: corruption kind.")
flags.DEFINE_float("noise_level", _M.noise_level,
                   "dae: Gaussian sigma, or corrupted fraction.")
flags.DEFINE_enum("sparsity", _M.sparsity, kae_config.SPARSITY_KINDS,
                  "sparse_ae: KL to a target rate, or L1.")
flags.DEFINE_float("sparsity_target", _M.sparsity_target,
                   "sparse_ae: rho, target mean activation.")
flags.DEFINE_float("sparsity_weight", _M.sparsity_weight,
                   "sparse_ae: beta, penalty weight.")
flags.DEFINE_float("beta", _M.beta, "vae: weight of the KL term.")
# Adversarial autoencoder and GAN (docs/adversarial.md).
flags.DEFINE_string("prior", _M.prior, "aae, gan: prior p(z), one of "
                    f"{', '.join(priors.PRIORS.names())}.")
flags.DEFINE_string("prior_params", "", "aae, gan: prior parameters, e.g. "
                    "std=1.0 or k=10,radius=4,std=1,tangential_std=0.25.")
flags.DEFINE_boolean("aae_supervised", _M.supervised, "aae: give the "
                     "one-hot label to the decoder (the code holds style).")
flags.DEFINE_list("discriminator_units",
                  list(map(str, _M.discriminator_units)),
                  "aae: discriminator hidden sizes.")
flags.DEFINE_float("discriminator_learning_rate",
                   _T.discriminator_learning_rate,
                   "aae, gan: discriminator's Adam rate.")
flags.DEFINE_float("generator_learning_rate", _T.generator_learning_rate,
                   "aae, gan: generator's Adam rate (the encoder's, aae).")
flags.DEFINE_string("dataset", _D.dataset,
                    "TFDS name, or a .npz/.npy/.csv file or image folder.")
flags.DEFINE_string("data_dir", None,
                    "TFDS data directory (default: TFDS_DATA_DIR or "
                    "~/tensorflow_datasets).")
flags.DEFINE_string("label_column", None, "CSV column with labels.")
flags.DEFINE_float("validation_fraction", _D.validation_fraction,
                   "Share of training data held out when there is no "
                   "validation split.")
flags.DEFINE_list("train_classes", [],
                  "Train only on these labels, e.g. 0,6.")
flags.DEFINE_integer("epochs", _T.epochs, "Passes over the training data.")
flags.DEFINE_integer("batch_size", _T.batch_size, "Global batch size.")
flags.DEFINE_float("learning_rate", _T.learning_rate, "Adam learning rate.")
flags.DEFINE_integer("seed", _T.seed, "Random seed.")
flags.DEFINE_integer("steps_per_epoch", None, "Optional cap on batches "
                     "per epoch, for quick runs.")
flags.DEFINE_enum("strategy", _T.strategy, kae_config.STRATEGIES,
                  "tf.distribute strategy.")
flags.DEFINE_integer("cpu_devices", _T.cpu_devices,
                     "Split the CPU into N logical devices.")
flags.DEFINE_integer("steps_per_execution", _T.steps_per_execution,
                     "Batches per tf.function call.")
flags.DEFINE_boolean("jit_compile", _T.jit_compile, "Compile with XLA.")
flags.DEFINE_enum("matmul_precision", _T.matmul_precision,
                  kae_config.MATMUL_PRECISIONS,
                  "Training matmul inputs in bfloat16 (float32 accumulate "
                  "and everything else float32), float32, or auto: "
                  "bfloat16 where the CPU has native bfloat16 and there "
                  "is no GPU.")
flags.DEFINE_enum("thread_pools", _T.thread_pools, kae_config.THREAD_POOLS,
                  "CPU thread pools: tensorflow (its defaults), inter_op "
                  "(ops on one thread each, independent ops side by side), "
                  "or auto: inter_op where every matmul fits one core's "
                  "L2 cache (small dense models), else tensorflow.")
flags.DEFINE_string("workdir", None, "Output folder (default: "
                    "runs/<model>-<dataset>).")
flags.DEFINE_boolean("overwrite", False,
                     "Replace a previous run in --workdir.")
# issue 15 flags
_DATA_FIELDS = {f.name: f for f in dataclasses.fields(_D)}
flags.DEFINE_enum("data_path", _D.data_path, kae_config.DATA_PATHS,
                  _DATA_FIELDS["data_path"].metadata["help"])
flags.DEFINE_integer("in_memory_limit_mb", _D.in_memory_limit_mb,
                     _DATA_FIELDS["in_memory_limit_mb"].metadata["help"])
flags.DEFINE_list("image_size", [],
                  _DATA_FIELDS["image_size"].metadata["help"])
flags.DEFINE_boolean("crop", _D.crop, _DATA_FIELDS["crop"].metadata["help"])
flags.DEFINE_integer("sample_size", _D.sample_size,
                     _DATA_FIELDS["sample_size"].metadata["help"])


def _ints(values, flag):
    try:
        return tuple(int(v) for v in values)
    except ValueError as error:
        raise KerasaeError(
            f"--{flag}={','.join(values)}: give comma-separated whole "
            "numbers") from error


def config_from_flags():
    """Builds the `Config` the flags describe."""
    f = FLAGS
    config = kae_config.Config(
        model=_M(
            name=f.model, arch=f.arch,
            hidden_units=_ints(f.hidden_units, "hidden_units"),
            latent_dim=f.latent_dim,
            reconstruction_loss=f.reconstruction_loss,
            activation=f.activation, output_activation=f.output_activation,
            noise=f.noise, noise_level=f.noise_level, sparsity=f.sparsity,
            sparsity_target=f.sparsity_target,
            sparsity_weight=f.sparsity_weight, beta=f.beta,
            prior=f.prior, prior_params=priors.parse_params(f.prior_params),
            supervised=f.aae_supervised,
            discriminator_units=_ints(f.discriminator_units,
                                      "discriminator_units")),
        data=_D(
            dataset=f.dataset, data_dir=f.data_dir,
            label_column=f.label_column,
            validation_fraction=f.validation_fraction,
            train_classes=_ints(f.train_classes, "train_classes"),
            data_path=f.data_path, in_memory_limit_mb=f.in_memory_limit_mb,
            image_size=_ints(f.image_size, "image_size"), crop=f.crop,
            sample_size=f.sample_size),
        train=_T(
            epochs=f.epochs, batch_size=f.batch_size,
            learning_rate=f.learning_rate, seed=f.seed,
            discriminator_learning_rate=f.discriminator_learning_rate,
            generator_learning_rate=f.generator_learning_rate,
            steps_per_epoch=f.steps_per_epoch, strategy=f.strategy,
            cpu_devices=f.cpu_devices,
            steps_per_execution=f.steps_per_execution,
            jit_compile=f.jit_compile,
            matmul_precision=f.matmul_precision,
            thread_pools=f.thread_pools),
    )
    if getattr(models.MODELS.get(f.model), "uses_prior", False):
        adversarial.validate_config(config)  # a bad prior fails before data
    return config


def default_workdir(config):
    """`runs/<model>-<dataset>`, the dataset's file or folder name."""
    dataset = os.path.basename(os.path.normpath(config.data.dataset))
    return os.path.join("runs", f"{config.model.name}-{dataset}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    # TFDS logs every dataset it opens at INFO; users want the progress.
    logging.set_verbosity(logging.WARNING)
    try:
        config = config_from_flags()
        training.train(config, FLAGS.workdir or default_workdir(config),
                       overwrite=FLAGS.overwrite)
    except KerasaeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
