"""Matrix-multiply precision: bfloat16 multiplies, float32 everything else.

On a CPU with native bfloat16 instructions (AVX512_BF16 or AMX, as on
recent Xeon and EPYC), oneDNN multiplies bfloat16 matrices at about twice
the float32 rate (415 against 218 GFLOP/s on this project's 2-core
machine, `bench/flops.py`). `bfloat16` precision uses that for the
training step only: the inputs of every dense layer's matmul and every
convolution are rounded to bfloat16 (in the backward pass too), the
products are accumulated in float32, and everything else (biases,
activations, losses, the optimizer and its state, the weights) stays
float32. It
is the "float32 matmul precision" of other frameworks (PyTorch's
`torch.set_float32_matmul_precision("medium")`, JAX's
`default_matmul_precision("bfloat16")`). Keras's `mixed_bfloat16` policy
is as fast here but also rounds biases, activations and layer outputs;
on the MNIST VAE neither moves the test ELBO beyond the seed-to-seed
spread (`bench/precision_elbo.py`, figures in `bench/RESULTS.md`).

Training builds its model inside `matmul_precision(...)`; the layer
builders ask `dense`, `conv2d` and `conv2d_transpose` here for their
layers. Evaluation and export always run in float32: `kerasae.training`
saves and evaluates a float32 copy of the trained weights, so the
reported figures and every exported model are float32.

`auto` picks bfloat16 on a CPU-only machine whose CPU has the bfloat16
instructions, and float32 anywhere else (on a GPU TensorFlow already runs
float32 matmuls as TF32 on Ampere and later; `docs/performance.md`).
"""

import os

from kerasae.config import MATMUL_PRECISIONS as CHOICES
from kerasae.errors import ConfigError
from kerasae.models.matmul import current  # noqa: F401
from kerasae.models.matmul import matmul_precision  # noqa: F401

# /proc/cpuinfo flags of the instructions oneDNN's bfloat16 kernels use.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN's `ONEDNN_MAX_CPU_ISA` values below its bfloat16 kernels: with
# one of these set, oneDNN emulates bfloat16 matmuls whatever the CPU has.
ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                     "AVX512_CORE", "AVX512_CORE_VNNI")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags the kernel reports (empty if unreadable)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_gpu():
    import tensorflow as tf
    return bool(tf.config.list_physical_devices("GPU"))


def resolve(choice, flags=None, gpu=None, max_isa=None):
    """The concrete precision, `float32` or `bfloat16`, for `choice`.

    Args:
        choice: one of `CHOICES`.
        flags: CPU flags (default: this machine's).
        gpu: whether a GPU is present (default: ask TensorFlow).
        max_isa: oneDNN's instruction-set cap (default: the
            `ONEDNN_MAX_CPU_ISA` environment variable); a cap below the
            bfloat16 kernels makes `auto` pick `float32`.

    Raises:
        ConfigError: `choice` is not one of `CHOICES`.
    """
    if choice not in CHOICES:
        raise ConfigError(
            f"--matmul_precision={choice!r} is not one of: "
            f"{', '.join(CHOICES)}")
    if choice != "auto":
        return choice
    flags = cpu_flags() if flags is None else flags
    gpu = has_gpu() if gpu is None else gpu
    if max_isa is None:
        max_isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    if max_isa.strip().upper() in ISAS_WITHOUT_BF16:
        return "float32"
    if not gpu and any(flag in flags for flag in BF16_CPU_FLAGS):
        return "bfloat16"
    return "float32"
