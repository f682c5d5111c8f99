"""Building and compiling a model for training.

The model of a config is built in the matmul precision training uses
(`kerasae.training.precision`) and compiled with the fused Adam for each
of its optimizer roles (the adversarial models have several); a float32
copy of a bfloat16-trained model is what gets saved and exported.
"""

import dataclasses

from kerasae import models
from kerasae.models import replicas
from kerasae.training import optimizers
from kerasae.training import precision as kae_precision


def build_for_training(config, precision="float32"):
    """The model of `config`, built in `precision` and compiled to train.

    Call it inside the strategy's scope.

    Args:
        config: a resolved `Config`.
        precision: `float32` or `bfloat16`
        (`kerasae.training.precision.resolve`).
    """
    with kae_precision.matmul_precision(precision):
        model = models.build(config.model)
    compile_model(model, config)
    return model


def float32_copy(model, config):
    """A float32 model of `config` holding `model`'s weights.

    The weights of a bfloat16-precision model are float32 already; only
    its matmuls round their inputs, so the copy is exact. The optimizers'
    state comes along, so `model.keras` holds it as it would otherwise.
    Call it inside the strategy's scope.
    """
    copy = models.build(config.model)
    compile_model(copy, config)
    copy.set_weights(model.get_weights())
    for source, target in zip(_optimizers(model), _optimizers(copy)):
        if source.built and not target.built:
            target.build(copy.trainable_variables)
        for to, value in zip(target.variables, source.variables):
            to.assign(value)
    return copy


def _optimizers(model):
    """The model's optimizers (the adversarial models have several)."""
    return [getattr(model, role) for role in model.optimizer_roles]


def compile_model(model, config):
    """Compiles `model` with the optimizers `config.train` asks for.

    Call it inside the strategy's scope. Each role of the model's
    `optimizer_roles` (the adversarial models have several) gets the
    fused Adam at its `TrainConfig` learning rate.
    """
    t = config.train
    if replicas.num_replicas() > 1 and t.steps_per_execution > 1:
        # Keras 3 cannot run several steps per call under a multi-replica
        # strategy ("You must feed a value for placeholder tensor",
        # keras-team/keras#19246), so replicas take one step per call.
        t = dataclasses.replace(t, steps_per_execution=1)
    chosen = {}
    for role, (rate, beta_1) in model.optimizer_roles.items():
        # A role's own beta_1 (the adversarial updates' 0.5) wins over
        # --adam_beta1; beta_2 and epsilon are the flags' for every role.
        chosen[role] = optimizers.Adam(
            getattr(t, rate),
            beta_1=t.adam_beta1 if beta_1 is None else beta_1,
            beta_2=t.adam_beta2, epsilon=t.adam_epsilon)
    model.compile(
        **chosen,
        steps_per_execution=execution_steps(t),
        jit_compile=t.jit_compile,
    )


def execution_steps(train_config):
    """The steps per execution to compile with: at most
    `steps_per_execution`, and a divisor of `steps_per_epoch` when set.

    Keras 3.15 runs whole executions over a repeated dataset: with
    `steps_per_epoch=5` and 20 steps per execution an "epoch" trains 20
    steps, and with 25 it trains 40. A divisor keeps every epoch exact.
    (An epoch that ends with its dataset, the default, is exact anyway:
    its last execution stops at the end of the data.)
    """
    t = train_config
    steps = t.steps_per_execution
    if t.steps_per_epoch:
        steps = max(d for d in range(1, min(steps, t.steps_per_epoch) + 1)
                    if t.steps_per_epoch % d == 0)
    return steps
