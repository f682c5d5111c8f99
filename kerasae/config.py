"""Frozen dataclasses describing one run, with a JSON round trip.

A `Config` holds everything needed to rebuild a model and repeat its
training: the model (`ModelConfig`), the data (`DataConfig`) and the
training loop (`TrainConfig`). Library functions take these objects, never
absl flags, so tests build them with `dataclasses.replace`.

Fields that depend on the data (`input_shape`, `data_range`, the resolved
`reconstruction_loss`) start empty or as "auto" and are filled in by
`kerasae.training` once the data is loaded; `config.json` in a workdir holds
the resolved values.
"""

import dataclasses
import json
import typing

from kerasae.errors import ConfigError

RECONSTRUCTION_LOSSES = ("auto", "bce", "mse")
OUTPUT_ACTIVATIONS = ("auto", "sigmoid", "linear")
ARCHS = ("dense", "conv")
NOISE_KINDS = ("gaussian", "masking", "salt_pepper")
SPARSITY_KINDS = ("kl", "l1")
MATMUL_PRECISIONS = ("auto", "float32", "bfloat16")
THREAD_POOLS = ("auto", "tensorflow", "inter_op")
# How the data is held (`kerasae.data.streaming`).
DATA_PATHS = ("auto", "memory", "stream")


def option(default, help, choices=None, flag=None):
    """A config field with the help text and choices of its flag.

    `kerasae.cli` generates the absl flags from these, so a new option is
    written once, beside its default.

    Args:
        default: the field's default (a dict or list becomes a factory).
        help: the flag's help text.
        choices: the allowed values, when the field is an enum.
        flag: the flag's name when it differs from the field's.
    """
    metadata = {"help": help, "choices": choices, "flag": flag}
    if isinstance(default, (dict, list)):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


STRATEGIES = (
    "auto",
    "default",
    "one_device",
    "mirrored",
    "multi_worker_mirrored",
    "tpu",
)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What to build.

    Attributes:
        name: registered model name (`ae`, `dae`, `sparse_ae`, `vae`, ...).
        arch: `dense` or `conv` encoder/decoder.
        hidden_units: dense layer sizes, or conv filter counts, encoder side;
            the decoder mirrors them.
        latent_dim: size of the code.
        reconstruction_loss: `bce` (Bernoulli, data in [0, 1]), `mse`
            (Gaussian), or `auto` (bce for [0, 1] data, else mse).
        activation: hidden-layer activation.
        output_activation: `sigmoid`, `linear`, or `auto` (sigmoid for bce or
            [0, 1] data, else linear).
        noise: corruption of the denoising autoencoder.
        noise_level: Gaussian sigma, or the corrupted fraction for masking
            and salt-and-pepper noise.
        sparsity: `kl` (sigmoid code, KL to `sparsity_target`) or `l1`.
        sparsity_target: rho, the target mean activation of a code unit.
        sparsity_weight: beta, the weight of the sparsity penalty.
        beta: weight of the VAE's KL term (1 is the ELBO).
        prior: name of the adversarial autoencoder's prior.
        prior_params: keyword arguments of the prior sampler.
        supervised: adversarial autoencoder: give the label to the decoder.
        discriminator_units: hidden sizes of the adversarial discriminator.
        input_shape: shape of one example, filled in from the data.
        data_range: (min, max) of the training data in model space.
        num_classes: number of labels, filled in from the data (0: none).
    """

    name: str = "vae"
    arch: str = "dense"
    # The classic MNIST VAE (Kingma and Welling 2014; the PyTorch example).
    hidden_units: tuple = (400,)
    latent_dim: int = 20
    reconstruction_loss: str = "auto"
    activation: str = "relu"
    output_activation: str = "auto"
    noise: str = "gaussian"
    noise_level: float = 0.3
    sparsity: str = "kl"
    sparsity_target: float = 0.05
    sparsity_weight: float = 3.0
    beta: float = 1.0
    prior: str = "gaussian"
    prior_params: dict = dataclasses.field(default_factory=dict)
    supervised: bool = False
    discriminator_units: tuple = (512, 512)
    input_shape: tuple = ()
    data_range: tuple = (0.0, 1.0)
    num_classes: int = 0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data comes from.

    Attributes:
        dataset: a TFDS name (`mnist`) or a path to `.npz`/`.npy`/`.csv` or
            a folder of images.
        data_dir: TFDS data directory (None: TFDS's default, which honours
            `TFDS_DATA_DIR`).
        label_column: CSV column holding labels (excluded from features).
        validation_fraction: share of the training data held out when the
            source has no validation split.
        train_classes: keep only these labels in train and validation.
        data_path: `memory` (read whole into NumPy), `stream` (`tf.data`
            pipelines that never hold a split) or `auto` (stream when the
            decoded size passes `in_memory_limit_mb`); `config.json` holds
            the path the run took.
        in_memory_limit_mb: the decoded size (all splits as float32) above
            which `auto` streams; a fixed number, not the free memory, so
            a seed gives the same run on every machine.
        image_size: `(height, width)` every image is resized to; () keeps
            the size (and images of mixed sizes are refused).
        crop: centre-crop images to the aspect ratio of `image_size`
            before resizing.
        sample_size: examples per split that evaluation, calibration and
            the pictures of a streamed run use.
    """

    dataset: str = "mnist"
    data_dir: typing.Optional[str] = None
    label_column: typing.Optional[str] = None
    validation_fraction: float = 0.1
    train_classes: tuple = ()
    data_path: str = option(
        "auto", "Hold the data in memory, stream it with tf.data, or auto: "
        "stream when its decoded size passes --in_memory_limit_mb.",
        choices=DATA_PATHS)
    in_memory_limit_mb: int = option(
        2048, "Decoded size (all splits as float32, MB) above which "
        "--data_path=auto streams.")
    image_size: tuple = option(
        (), "Resize every image to HEIGHT,WIDTH (default: keep the size; "
        "mixed sizes are refused).")
    crop: bool = option(
        False, "Centre-crop images to the aspect ratio of --image_size "
        "before resizing.")
    sample_size: int = option(
        10_000, "Examples per split that evaluation, calibration and "
        "pictures of a streamed run use.")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        epochs: passes over the training data.
        batch_size: global batch size (split across replicas).
        learning_rate: Adam learning rate (reconstruction / main optimizer).
        discriminator_learning_rate: adversarial discriminator's Adam rate.
        generator_learning_rate: adversarial generator's Adam rate.
        seed: seeds initialisation, shuffling and sampling.
        steps_per_epoch: optional cap on batches per epoch (quick runs).
        strategy: `tf.distribute` strategy name.
        cpu_devices: split the CPU into this many logical devices (0: no).
        steps_per_execution: batches run per `tf.function` call; 20 cuts
            the per-step Python and dispatch cost (about 14% more samples
            per CPU second for the MNIST VAE, see bench/RESULTS.md) while
            the progress bar still moves about 24 times an epoch.
        jit_compile: compile the train step with XLA.
        matmul_precision: `float32`, `bfloat16` (matmul and convolution
            inputs rounded to bfloat16 in training; see
            `kerasae.training.precision`) or `auto` (bfloat16 on a CPU with
            native bfloat16 instructions and no GPU, else float32).
        thread_pools: `tensorflow` (its default pools), `inter_op` (one
            intra-op thread, an inter-op thread per core) or `auto`
            (`inter_op` where every matmul fits one core's L2 cache; see
            `kerasae.training.threads`).
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    # Measured on MNIST (docs/adversarial.md): at 1e-4 the discriminator
    # wins and the codes drift; at 1e-3 the code cloud jumps between epochs.
    discriminator_learning_rate: float = 5e-4
    generator_learning_rate: float = 5e-4
    seed: int = 0
    steps_per_epoch: typing.Optional[int] = None
    strategy: str = "auto"
    cpu_devices: int = 0
    steps_per_execution: int = 20
    jit_compile: bool = False
    matmul_precision: str = "auto"
    thread_pools: str = "auto"


@dataclasses.dataclass(frozen=True)
class Config:
    """One run: model, data and training."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self):
        """Returns the config as plain JSON-compatible dicts and lists."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self):
        """Returns the config as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, value):
        """Builds a `Config` from `to_dict` output.

        Raises:
            ConfigError: a section holds a field this version does not know.
        """
        return cls(
            model=_section(ModelConfig, value.get("model", {})),
            data=_section(DataConfig, value.get("data", {})),
            train=_section(TrainConfig, value.get("train", {})),
        )

    @classmethod
    def from_json(cls, text):
        """Builds a `Config` from `to_json` output."""
        return cls.from_dict(json.loads(text))


def _section(cls, value):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} field(s) {unknown}: the config was "
            "written by another kerasae version"
        )
    kwargs = {}
    for key, item in value.items():
        if isinstance(item, list):
            item = tuple(item)
        kwargs[key] = item
    return cls(**kwargs)


def validate(config):
    """Checks values that do not depend on the data.

    Raises:
        ConfigError: with a one-line message naming the flag to fix.
    """
    m, d, t = config.model, config.data, config.train
    _choice("--arch", m.arch, ARCHS)
    _choice("--reconstruction_loss", m.reconstruction_loss,
            RECONSTRUCTION_LOSSES)
    _choice("--output_activation", m.output_activation, OUTPUT_ACTIVATIONS)
    _choice("--noise", m.noise, NOISE_KINDS)
    _choice("--sparsity", m.sparsity, SPARSITY_KINDS)
    _choice("--strategy", t.strategy, STRATEGIES)
    _choice("--matmul_precision", t.matmul_precision, MATMUL_PRECISIONS)
    _choice("--thread_pools", t.thread_pools, THREAD_POOLS)
    if any(int(u) <= 0 for u in m.hidden_units):
        raise ConfigError(
            f"--hidden_units={_csv(m.hidden_units)}: sizes must be positive, "
            "e.g. --hidden_units=512,256"
        )
    if m.arch == "conv" and not m.hidden_units:
        raise ConfigError(
            "--arch=conv needs at least one filter count in --hidden_units, "
            "e.g. --hidden_units=32,64"
        )
    _positive("--latent_dim", m.latent_dim)
    _positive("--epochs", t.epochs)
    _positive("--batch_size", t.batch_size)
    _positive("--learning_rate", t.learning_rate)
    _positive("--steps_per_execution", t.steps_per_execution)
    if t.steps_per_epoch is not None:
        _positive("--steps_per_epoch", t.steps_per_epoch)
    if t.cpu_devices < 0:
        raise ConfigError(f"--cpu_devices={t.cpu_devices}: must be 0 or more")
    if m.noise_level < 0 or (m.noise != "gaussian" and m.noise_level > 1):
        raise ConfigError(
            f"--noise_level={m.noise_level}: a sigma >= 0 for gaussian noise, "
            "a fraction in [0, 1] for masking and salt_pepper"
        )
    if not 0 < m.sparsity_target < 1:
        raise ConfigError(
            f"--sparsity_target={m.sparsity_target}: rho must lie strictly "
            "between 0 and 1"
        )
    if m.sparsity_weight < 0 or m.beta < 0:
        raise ConfigError("--sparsity_weight and --beta must be >= 0")
    if not 0 <= d.validation_fraction < 1:
        raise ConfigError(
            f"--validation_fraction={d.validation_fraction}: must be in [0, 1)"
        )
    _choice("--data_path", d.data_path, DATA_PATHS)
    _positive("--in_memory_limit_mb", d.in_memory_limit_mb)
    _positive("--sample_size", d.sample_size)
    if d.image_size and (len(d.image_size) != 2
                         or any(int(v) <= 0 for v in d.image_size)):
        raise ConfigError(
            f"--image_size={_csv(d.image_size)}: give HEIGHT,WIDTH in "
            "pixels, e.g. --image_size=64,64")
    if d.crop and not d.image_size:
        raise ConfigError(
            "--crop needs --image_size=HEIGHT,WIDTH: the aspect ratio to "
            "crop to")
    if m.reconstruction_loss == "bce" and m.output_activation == "linear":
        raise ConfigError(
            "--reconstruction_loss=bce needs a sigmoid output: drop "
            "--output_activation=linear or use --reconstruction_loss=mse"
        )


def _choice(flag, value, choices):
    if value not in choices:
        raise ConfigError(
            f"{flag}={value!r} is not one of: {', '.join(choices)}"
        )


def _positive(flag, value):
    if not value > 0:
        raise ConfigError(f"{flag}={value}: must be greater than 0")


def _csv(values):
    return ",".join(str(v) for v in values)
