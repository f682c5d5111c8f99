"""The PyTorch examples' MNIST VAE in JAX + Flax + Optax, for
`bench/vs_references.py`.

784-400-20 with ReLU, Bernoulli likelihood on the logits summed over
pixels plus the KL term, Adam 1e-3; the whole training step (forward,
gradient, Adam update) is one `jax.jit` function, the usual way to train
with Flax. Runs in its own environment (`pip install jax flax optax`).
"""

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class VAE(nn.Module):
    latent: int = 20

    @nn.compact
    def __call__(self, x, key):
        h = nn.relu(nn.Dense(400)(x))
        mean, logvar = nn.Dense(self.latent)(h), nn.Dense(self.latent)(h)
        z = mean + jax.random.normal(key, mean.shape) * jnp.exp(0.5 * logvar)
        logits = nn.Dense(784)(nn.relu(nn.Dense(400)(z)))
        nll = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1)
        kl = -0.5 * jnp.sum(1 + logvar - mean ** 2 - jnp.exp(logvar), -1)
        return (nll + kl).mean()


def make_step(seed, batch_size):
    """`(state, step)`: `step(state, batch) -> (state, loss)`, jitted."""
    model = VAE()
    key, init_key = jax.random.split(jax.random.PRNGKey(seed))
    params = model.init(init_key, jnp.zeros((batch_size, 784)), key)
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(state, batch):
        params, opt_state, key = state
        key, noise = jax.random.split(key)
        loss, grads = jax.value_and_grad(
            lambda p: model.apply(p, batch, noise))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, key), loss

    return (params, optimizer.init(params), key), step
