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
ARCHS = ("dense", "conv", "conv1d", "lstm")
# What `hidden_units` means when it is not given: dense layer sizes (the
# classic MNIST VAE), or conv filter counts. A single 400-filter conv layer
# (the dense default) puts a 400-to-400-channel transposed convolution in
# the decoder: 2.9e8 multiply-adds per 28x28 image against 6.7e6 for 32,64.
ARCH_HIDDEN_UNITS = {"dense": (400,), "conv": (32, 64),
                     # The keras-io time-series example's filters.
                     "conv1d": (32, 16), "lstm": (64,)}
NOISE_KINDS = ("gaussian", "masking", "salt_pepper")
SPARSITY_KINDS = ("kl", "l1")
MATMUL_PRECISIONS = ("auto", "float32", "bfloat16")
THREAD_POOLS = ("auto", "tensorflow", "inter_op")
# How the data is held (`kerasae.data.loader`).
DATA_PATHS = ("auto", "memory", "stream")
# What the adversarial autoencoder's code is (docs/adversarial.md).
AAE_MODES = ("standard", "semi_supervised", "clustering")


def option(default, help, choices=None, flag=None):
    """A config field with the help text and choices of its flag.

    `kerasae.cli` generates the absl flags from these, so a new option is
    written once, beside its default.

    Args:
        default: the field's default (a dict or list becomes a factory).
        help: the flag's help text (None only with `flag=False`).
        choices: the allowed values, when the field is an enum: a tuple, or
            the dotted path of a `kerasae.registry.Registry` whose names are
            read when the flags are defined ("kerasae.models.MODELS").
        flag: the flag's name when it differs from the field's; False for
            a field filled in from the data, which has no flag.
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
        arch: `dense`, `conv` (images), `conv1d` or `lstm` (series
            windows) encoder/decoder.
        hidden_units: dense layer sizes, or conv filter counts, encoder side;
            the decoder mirrors them. None (the default) takes the arch's
            default from `ARCH_HIDDEN_UNITS` when the config is made; a
            `dataclasses.replace` that changes `arch` keeps the old sizes
            unless it also passes `hidden_units=None`.
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
        aae_mode: `standard`, `semi_supervised` or `clustering`
            (`kerasae.models.adversarial_categorical`).
        clusters: K of the clustering aae (None: 16).
        input_shape: shape of one example, filled in from the data.
        data_range: (min, max) of the training data in model space.
        num_classes: number of labels, filled in from the data (0: none).
    """

    name: str = option("vae", "Model to train.",
                       choices="kerasae.models.MODELS", flag="model")
    arch: str = option(
        "dense", "Encoder/decoder kind: dense, conv (images), conv1d or lstm "
        "(series).", choices=ARCHS)
    # None: the arch's default, `ARCH_HIDDEN_UNITS` (the classic MNIST VAE
    # of Kingma and Welling 2014 for dense; see `__post_init__`).
    hidden_units: typing.Optional[tuple] = option(
        None, "Hidden sizes (dense) or filters (conv), encoder side "
        "(default: " + "; ".join(
            f"{','.join(map(str, units))} for {arch}"
            for arch, units in ARCH_HIDDEN_UNITS.items()) + ").")
    latent_dim: int = option(20, "Size of the code.")
    reconstruction_loss: str = option(
        "auto", "bce (Bernoulli, data in [0,1]), mse, or auto.",
        choices=RECONSTRUCTION_LOSSES)
    activation: str = option("relu", "Hidden activation.")
    output_activation: str = option(
        "auto", "Decoder output activation.", choices=OUTPUT_ACTIVATIONS)
    noise: str = option("gaussian", "dae: corruption kind.",
                        choices=NOISE_KINDS)
    noise_level: float = option(
        0.3, "dae: Gaussian sigma, or corrupted fraction.")
    sparsity: str = option("kl", "sparse_ae: KL to a target rate, or L1.",
                           choices=SPARSITY_KINDS)
    sparsity_target: float = option(
        0.05, "sparse_ae: rho, target mean activation.")
    sparsity_weight: float = option(3.0, "sparse_ae: beta, penalty weight.")
    beta: float = option(1.0, "vae: weight of the KL term.")
    # Adversarial autoencoder and GAN (docs/adversarial.md).
    prior: str = option("gaussian", "aae, gan: prior p(z).",
                        choices="kerasae.models.priors.PRIORS")
    prior_params: dict = option(
        {}, "aae, gan: prior parameters, e.g. std=1.0 or "
        "k=10,radius=4,std=1,tangential_std=0.25.")
    supervised: bool = option(
        False, "aae: give the one-hot label to the decoder (the code holds "
        "style).", flag="aae_supervised")
    discriminator_units: tuple = option(
        (512, 512), "aae: discriminator hidden sizes.")
    aae_mode: str = option(
        "standard", "aae: standard (one code held to --prior), "
        "semi_supervised (a class code and a --latent_dim style code, "
        "trained on --labelled_examples labels) or clustering (a "
        "--clusters-way categorical code and a style code).",
        choices=AAE_MODES)
    clusters: typing.Optional[int] = option(
        None, "aae --aae_mode=clustering: number of clusters K (default "
        "16).")
    # Filled in from the data (`kerasae.training.resolve`): no flags.
    input_shape: tuple = option((), None, flag=False)
    data_range: tuple = option((0.0, 1.0), None, flag=False)
    num_classes: int = option(0, None, flag=False)
    # Likelihoods that match the papers (Burda et al. 2016; Sonderby et
    # al. 2016; Kingma et al. 2016).
    iwae_samples: int = option(
        1, "vae: importance samples of the training objective (Burda et "
        "al. 2016, Eq. 8); 1 is the ELBO.")
    output_bias: str = option(
        "zeros", "Initial decoder output bias: zeros, or data_mean (the "
        "logit of the training mean, as Burda et al. 2016 do).",
        choices=("zeros", "data_mean"))
    kl_warmup_epochs: float = option(
        0.0, "vae: raise the KL weight linearly from 0 to --beta over this "
        "many epochs (Sonderby et al. 2016; Bowman et al. 2016).")
    free_bits: float = option(
        0.0, "vae: nats per latent unit the KL may use for free: "
        "sum_j max(free_bits, batch mean of KL_j) (Kingma et al. 2016, "
        "'free bits'); 0: off.")
    vq_codebook_size: int = option(
        128, "vqvae: number of codebook entries K.")
    vq_embedding_dim: int = option(
        8, "vqvae: size of each codebook entry; the encoder outputs "
        "latent_dim vectors of this size.")
    commitment_cost: float = option(
        0.25, "vqvae: beta, weight of the commitment loss (van den Oord "
        "et al. 2017, Eq. 3).")
    conditional: bool = option(
        False, "vae: a conditional VAE (Sohn et al. 2015): the one-hot "
        "label goes to the encoder and the decoder; samples are drawn per "
        "label.")

    def __post_init__(self):
        if self.hidden_units is None:
            # Frozen: the one place an unset field takes its arch default.
            object.__setattr__(self, "hidden_units",
                               ARCH_HIDDEN_UNITS.get(self.arch, ()))


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
        labelled_examples: the semi-supervised aae's labelled subset size
            (`kerasae.training.labelled.choose`); None: every label.
    """

    dataset: str = option(
        "mnist", "TFDS name, or a .npz/.npy/.csv file or image folder.")
    data_dir: typing.Optional[str] = option(
        None, "TFDS data directory (default: TFDS_DATA_DIR or "
        "~/tensorflow_datasets).")
    label_column: typing.Optional[str] = option(
        None, "CSV column with labels (a series: per step, 0 normal, other "
        "values anomalous).")
    validation_fraction: float = option(
        0.1, "Share of training data held out when there is no validation "
        "split.")
    train_classes: tuple = option(
        (), "Train only on these labels, e.g. 0,6.")
    # Series and a second (test) file.
    # An int, or `auto` (the training series' dominant period,
    # `kerasae.data.period`); config.json records the resolved int.
    window: typing.Union[int, str, None] = option(
        None, "Read the file as a series (one row per time step) cut into "
        "sliding windows of this many steps; auto: the training series' "
        "dominant period (autocorrelation), else 64.")
    window_stride: int = option(1, "Steps between training windows.")
    time_column: typing.Optional[str] = option(
        None, "Series: column of times (numbers or ISO dates), kept for "
        "reporting, never a feature; must increase.")
    feature_columns: tuple[str, ...] = option(
        (), "Series: the feature columns (default: all but the time and "
        "label columns).")
    csv_header: bool = option(
        True, "Series: the CSV's first row names the columns (false: "
        "columns are named 0, 1, ... by position).")
    test_dataset: typing.Optional[str] = option(
        None, "A second file read with the same columns and "
        "preprocessing, used as the test split.")
    binarize: str = option(
        "none", "Binarize [0, 1] data: static (one seeded Bernoulli "
        "sample) or dynamic (resampled every use); validation and test "
        "are binarized once with a fixed seed.",
        choices=("none", "static", "dynamic"))
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
    labelled_examples: typing.Optional[int] = option(
        None, "aae --aae_mode=semi_supervised: keep the labels of this many "
        "training examples, the same number per class, drawn by --seed "
        "(default: every label).")


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
        keep_checkpoints: epochs' weights kept in `checkpoints/`: the
            last this many, and the best by validation loss (0: none).
    """

    epochs: int = option(10, "Passes over the training data.")
    batch_size: int = option(128, "Global batch size.")
    learning_rate: float = option(1e-3, "Adam learning rate.")
    # Measured on MNIST (docs/adversarial.md): at 1e-4 the discriminator
    # wins and the codes drift; at 1e-3 the code cloud jumps between epochs.
    discriminator_learning_rate: float = option(
        5e-4, "aae, gan: discriminator's Adam rate.")
    generator_learning_rate: float = option(
        5e-4, "aae, gan: generator's Adam rate (the encoder's, aae).")
    seed: int = option(0, "Random seed.")
    steps_per_epoch: typing.Optional[int] = option(
        None, "Optional cap on batches per epoch, for quick runs.")
    strategy: str = option("auto", "tf.distribute strategy.",
                           choices=STRATEGIES)
    cpu_devices: int = option(0, "Split the CPU into N logical devices.")
    steps_per_execution: int = option(20, "Batches per tf.function call.")
    jit_compile: bool = option(False, "Compile with XLA.")
    matmul_precision: str = option(
        "auto", "Training matmul inputs in bfloat16 (float32 accumulate and "
        "everything else float32), float32, or auto: bfloat16 where the CPU "
        "has native bfloat16 and there is no GPU.",
        choices=MATMUL_PRECISIONS)
    thread_pools: str = option(
        "auto", "CPU thread pools: tensorflow (its defaults), inter_op (ops "
        "on one thread each, independent ops side by side), or auto: "
        "inter_op where every matmul fits one core's L2 cache (small dense "
        "models), else tensorflow.", choices=THREAD_POOLS)
    lr_schedule: str = option(
        "constant", "constant, or iwae: Burda et al.'s stages, stage i "
        "spending a 3^i/3280 share of --epochs at learning_rate * "
        "10^(-i/7) (3,280 epochs: their schedule exactly).",
        choices=("constant", "iwae"))
    adam_beta1: float = option(0.9, "Adam's beta_1.")
    adam_beta2: float = option(0.999, "Adam's beta_2.")
    adam_epsilon: float = option(
        1e-7, "Adam's epsilon (Burda et al. 2016 use 1e-4).")
    keep_checkpoints: int = option(
        3, "Checkpoints kept in WORKDIR/checkpoints: the last N epochs' "
        "weights and the best by validation loss (0: none).")


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
    if m.arch in ("conv", "conv1d", "lstm") and not m.hidden_units:
        raise ConfigError(
            f"--arch={m.arch} needs at least one filter count (lstm: unit "
            "count) in --hidden_units, e.g. --hidden_units=32,16"
        )
    _positive("--latent_dim", m.latent_dim)
    _positive("--epochs", t.epochs)
    _positive("--batch_size", t.batch_size)
    _positive("--learning_rate", t.learning_rate)
    _positive("--steps_per_execution", t.steps_per_execution)
    _positive("--discriminator_learning_rate", t.discriminator_learning_rate)
    _positive("--generator_learning_rate", t.generator_learning_rate)
    if any(int(u) <= 0 for u in m.discriminator_units):
        raise ConfigError(
            f"--discriminator_units={_csv(m.discriminator_units)}: give "
            "positive sizes, e.g. --discriminator_units=512,512")
    if t.steps_per_epoch is not None:
        _positive("--steps_per_epoch", t.steps_per_epoch)
    if t.keep_checkpoints < 0:
        raise ConfigError(f"--keep_checkpoints={t.keep_checkpoints}: must "
                          "be 0 or more")
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
    _validate_series(d)
    _validate_likelihood_options(m, d, t)
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


def _validate_likelihood_options(m, d, t):
    _choice("--binarize", d.binarize, ("none", "static", "dynamic"))
    _choice("--output_bias", m.output_bias, ("zeros", "data_mean"))
    _choice("--lr_schedule", t.lr_schedule, ("constant", "iwae"))
    _positive("--iwae_samples", m.iwae_samples)
    if m.kl_warmup_epochs < 0 or m.free_bits < 0:
        raise ConfigError("--kl_warmup_epochs and --free_bits must be >= 0")
    if m.name != "vae" and (m.iwae_samples != 1 or m.kl_warmup_epochs
                            or m.free_bits):
        raise ConfigError(
            f"--iwae_samples, --kl_warmup_epochs and --free_bits apply to "
            f"--model=vae only, not --model={m.name}")
    if m.iwae_samples > 1 and m.free_bits:
        raise ConfigError(
            "--free_bits applies to the ELBO; use it with --iwae_samples=1")
    for flag, value in (("--adam_beta1", t.adam_beta1),
                        ("--adam_beta2", t.adam_beta2)):
        if not 0 <= value < 1:
            raise ConfigError(f"{flag}={value}: must be in [0, 1)")
    _positive("--adam_epsilon", t.adam_epsilon)
    if m.conditional and m.name != "vae":
        raise ConfigError(
            f"--conditional applies to --model=vae only, not --model="
            f"{m.name}" + (" (use --aae_supervised for a label-decoding aae)"
                           if m.name == "aae" else ""))
    _validate_aae_mode(m, d)
    _positive("--vq_codebook_size", m.vq_codebook_size)
    _positive("--vq_embedding_dim", m.vq_embedding_dim)
    if m.commitment_cost < 0:
        raise ConfigError(
            f"--commitment_cost={m.commitment_cost}: must be >= 0")


def _validate_aae_mode(m, d):
    _choice("--aae_mode", m.aae_mode, AAE_MODES)
    if m.aae_mode != "standard" and m.name != "aae":
        raise ConfigError(
            f"--aae_mode={m.aae_mode} applies to --model=aae only, not "
            f"--model={m.name}")
    if m.aae_mode != "standard" and m.supervised:
        raise ConfigError(
            f"--aae_mode={m.aae_mode} infers the class itself: drop "
            "--aae_supervised (it gives the label to the decoder)")
    if m.clusters is not None and m.aae_mode != "clustering":
        raise ConfigError(
            f"--clusters applies to --aae_mode=clustering, not "
            f"--aae_mode={m.aae_mode}")
    if m.clusters is not None and m.clusters < 2:
        raise ConfigError(
            f"--clusters={m.clusters}: give at least 2 clusters, e.g. "
            "--clusters=16")
    if d.labelled_examples is not None and m.aae_mode != "semi_supervised":
        raise ConfigError(
            f"--labelled_examples applies to --aae_mode=semi_supervised, "
            f"not --model={m.name} --aae_mode={m.aae_mode}")
    if m.aae_mode == "semi_supervised" and d.binarize == "dynamic":
        raise ConfigError(
            "--binarize=dynamic resamples the unlabelled batches only, not "
            "the labelled subset of --aae_mode=semi_supervised; use "
            "--binarize=static")
    if d.labelled_examples is not None and d.labelled_examples < 1:
        raise ConfigError(
            f"--labelled_examples={d.labelled_examples}: keep at least one "
            "label per class")


def _validate_series(d):
    if isinstance(d.window, str) and d.window != "auto":
        raise ConfigError(
            f"--window={d.window}: give a number of time steps, e.g. 48, "
            "or auto (the series' dominant period)")
    if isinstance(d.window, int) and d.window < 2:
        raise ConfigError(
            f"--window={d.window}: a window holds at least 2 time steps")
    if d.window_stride < 1:
        raise ConfigError(
            f"--window_stride={d.window_stride}: must be 1 or more")
    if d.window is not None and d.data_path == "stream":
        raise ConfigError(
            "--window reads the series into memory once and gathers its "
            "windows on the fly: drop --data_path=stream")
    if d.window is None:
        for flag, value in (("time_column", d.time_column),
                            ("feature_columns", d.feature_columns),
                            ("window_stride", d.window_stride != 1),
                            ("csv_header", not d.csv_header)):
            if value:
                raise ConfigError(
                    f"--{flag} applies to a series only: add --window=N "
                    "(the number of time steps a window holds)")


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
