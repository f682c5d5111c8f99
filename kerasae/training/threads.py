"""CPU thread pools for training: TensorFlow's, or one thread per op.

TensorFlow runs a step with two pools of one thread per core each: the
inter-op pool runs independent ops side by side, the intra-op pool splits
a single op across cores. On a small dense model the split does not pay.
oneDNN already runs each matmul on one thread when its matrices fit the
core's L2 cache (TensorFlow's `ExecuteSingleThreadedGemm`: element bytes
times m*n + k*(m+n) below the L2 size), which at batch 128 holds for every
matmul of the MNIST VAE in bfloat16. What the intra-op pool still splits
are elementwise ops of a few hundred kilobytes, where waking threads costs
more than it saves, and its threads compete for the same cores as the
inter-op pool's. With one intra-op thread and an inter-op thread per core
(`inter_op`), independent ops (the two gradients of every matmul, the
optimizer updates) still run side by side, each on one core.

`--thread_pools`:
- `tensorflow`: TensorFlow's defaults;
- `inter_op`: one intra-op thread, one inter-op thread per core;
- `auto` (default): `inter_op` where every matmul of a training step
  fits one core's L2 by that rule (a dense model), or where every
  convolution of a `conv` or `conv1d` model is small (at most
  `SMALL_CONV_MACS` multiply-adds per step in the forward pass), with no
  GPU, no distribution strategy and more than one core; else
  `tensorflow`. Large matmuls and convolutions gain from the intra-op
  pool: there `inter_op` is slower.

Convolutions have no single-thread rule in TensorFlow; the bound comes
from measurements. A conv1d autoencoder on 48-step windows (largest
convolution 11 million multiply-adds per step at batch 128) trains
16-35% faster with `inter_op` in float32; the MNIST conv VAE (largest
462 million) gains nothing in float32 and loses 16% in bfloat16. The
bound lies between the two.

The measurements behind this are in `docs/performance.md`. Thread pools
are fixed when TensorFlow's runtime starts, so `configure` runs before
anything starts it: training loads a file (which needs no TensorFlow)
first and passes its input shape; a TFDS dataset's shape comes from
its metadata, since loading it starts the runtime.
"""

import math
import os
import sys

from kerasae.config import THREAD_POOLS as CHOICES
from kerasae.errors import ConfigError

# TensorFlow's margin over the L2 size in `ExecuteSingleThreadedGemm`.
L2_MARGIN = 1.01
CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"
# Largest forward multiply-adds per step of any convolution for which
# `auto` picks `inter_op` (see the module docstring).
SMALL_CONV_MACS = 2**26


def l2_bytes(cache_dir=CACHE_DIR):
    """One core's L2 cache in bytes, from sysfs (None if unknown)."""
    try:
        for index in sorted(os.listdir(cache_dir)):
            folder = os.path.join(cache_dir, index)
            with open(os.path.join(folder, "level")) as handle:
                if handle.read().strip() != "2":
                    continue
            with open(os.path.join(folder, "size")) as handle:
                size = handle.read().strip().upper()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:], 1)
            return int(size.rstrip("KMG")) * scale
    except (OSError, ValueError):
        pass
    return None


def matmuls_fit_one_core(layer_sizes, batch_size, element_bytes, l2):
    """Whether every matmul of a training step of a dense stack with
    `layer_sizes` (input first) runs on one thread in oneDNN: for each
    layer a -> b, the forward (batch x a by a x b) and the two gradient
    matmuls (batch x b by b x a, and a x batch by batch x b); a decoder
    layer b -> a has the same three shapes."""
    for a, b in zip(layer_sizes, layer_sizes[1:]):
        for m, k, n in ((batch_size, a, b), (batch_size, b, a),
                        (a, batch_size, b)):
            if element_bytes * (m * n + k * (m + n)) >= L2_MARGIN * l2:
                return False
    return True


def conv_macs(input_shape, arch, filters):
    """Forward multiply-adds per example of each convolution of a `conv`
    (images `(h, w, c)`, 3x3) or `conv1d` (windows `(steps, features)`,
    kernel 7) model with `filters` (stride 2 each, mirrored by transposed
    convolutions, then one convolution back to the channels), as
    `kerasae.models.layers` builds it."""
    kernel = 9 if arch == "conv" else 7
    *sizes, channels = (int(d) for d in input_shape)
    found, previous = [], channels
    for f in (int(f) for f in filters):
        sizes = [math.ceil(d / 2) for d in sizes]
        found.append(math.prod(sizes) * kernel * previous * f)
        previous = f
    for f in reversed([int(f) for f in filters]):
        # A transposed convolution costs what it mirrors: its input
        # positions times kernel, in and out channels.
        found.append(math.prod(sizes) * kernel * previous * f)
        sizes = [d * 2 for d in sizes]
        previous = f
    found.append(math.prod(sizes) * kernel * previous * channels)
    return found


def resolve(config, input_shape=None, precision="float32", gpu=False,
            cores=None, l2=None):
    """The pools `config.train.thread_pools` asks for here:
    `tensorflow` or `inter_op`.

    Args:
        config: a `Config`.
        input_shape: shape of one example (None: not known yet).
        precision: the resolved matmul precision.
        gpu: whether a GPU is present.
        cores: CPU cores (default: this machine's).
        l2: one core's L2 bytes (default: this machine's).
    """
    choice = config.train.thread_pools
    if choice not in CHOICES:
        raise ConfigError(f"--thread_pools={choice!r} is not one of: "
                          f"{', '.join(CHOICES)}")
    if choice != "auto":
        return choice
    cores = os.cpu_count() if cores is None else cores
    l2 = l2_bytes() if l2 is None else l2
    t, m = config.train, config.model
    if (gpu or not input_shape or (cores or 1) < 2 or t.cpu_devices
            or t.strategy not in ("auto", "default")):
        return "tensorflow"
    if m.arch in ("conv", "conv1d"):
        rank = 3 if m.arch == "conv" else 2
        if len(input_shape) == rank and max(conv_macs(
                input_shape, m.arch, m.hidden_units)) * t.batch_size \
                <= SMALL_CONV_MACS:
            return "inter_op"
        return "tensorflow"
    if m.arch != "dense" or not l2:
        return "tensorflow"
    # 2 * latent_dim bounds every model's code layer (the VAE's).
    sizes = [math.prod(input_shape), *m.hidden_units, 2 * m.latent_dim]
    element_bytes = 2 if precision == "bfloat16" else 4
    if matmuls_fit_one_core(sizes, t.batch_size, element_bytes, l2):
        return "inter_op"
    return "tensorflow"


def input_shape_before_loading(data_config):
    """The example shape of a TFDS dataset from its metadata, without
    loading it (which would start TensorFlow's runtime). None for files
    and folders (training loads those first) and for a TFDS name that does
    not resolve (its load reports that)."""
    from kerasae.data import loader
    if not loader.is_tfds_name(data_config.dataset):
        return None
    try:
        from kerasae.data import tfds_reader
        shape = tfds_reader.image_shape(data_config.dataset,
                                        data_config.data_dir)
    except Exception:  # the real load reports a bad name properly
        return None
    return tuple(shape) if shape and None not in shape else None


def configure(config, precision, input_shape=None):
    """Sets TensorFlow's thread pools for `config`; returns the pools now
    in use (`tensorflow` or `inter_op`).

    Args:
        config: a `Config`.
        precision: the resolved matmul precision.
        input_shape: shape of one example; None: a TFDS dataset's from
            its metadata (`input_shape_before_loading`).

    In a process where TensorFlow already started (a notebook that
    trained before) the pools cannot change: the pools there are are
    returned (and recorded in `metrics.json`), and pools asked for
    explicitly (not `auto`) are reported on stderr as not applied.
    """
    import tensorflow as tf

    from kerasae.training import precision as kae_precision
    if input_shape is None:
        input_shape = input_shape_before_loading(config.data)
    pools = resolve(config, input_shape, precision,
                    gpu=kae_precision.has_gpu())
    intra, inter = (1, os.cpu_count() or 1) if pools == "inter_op" else \
        (0, 0)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        # The runtime started earlier in this process (a notebook that
        # trained before, or used TensorFlow): the pools are fixed now.
        now = current()
        if now != pools and config.train.thread_pools != "auto":
            print(f"kerasae: --thread_pools={pools} not applied: TensorFlow "
                  f"already started in this process with its {now} pools "
                  "(training goes on with those); set it in a new process",
                  file=sys.stderr)
        return now
    return pools


def current():
    """The pools TensorFlow is set to use (`inter_op` or `tensorflow`)."""
    import tensorflow as tf
    if tf.config.threading.get_intra_op_parallelism_threads() == 1 and \
            tf.config.threading.get_inter_op_parallelism_threads() > 1:
        return "inter_op"
    return "tensorflow"
