"""One line saying what was built: the networks' layer sizes.

`describe_model(model, arch)` gives, for the MNIST VAE,
`dense encoder 784-400-40, decoder 20-400-784`: each sub-network's input,
the width of each dense layer (units) or convolution (filters), and its
output; an image stays `28x28x1` where a convolution sees it whole. The end
of a run prints it with the parameter count, so a surprising model (a
400-filter convolution, say) shows before anyone waits for it twice.
"""

import math

import keras


def describe_model(model, arch):
    """Describes the sub-networks of `model`.

    Args:
        model: a built kerasae model (its sub-networks are `keras.Model`s:
            encoder and decoder, plus a discriminator or generator).
        arch: `config.model.arch`, named first.

    Returns:
        A string such as `dense encoder 784-400-20, decoder 20-400-784`.
    """
    parts = [f"{network.name} {network_sizes(network)}"
             for network in model.layers if isinstance(network, keras.Model)]
    return f"{arch} " + ", ".join(parts)


def network_sizes(network):
    """`in-hidden-...-out` of one `keras.Sequential`-like network.

    The input is shown as an image (`28x28x1`) when a convolution takes it,
    else flattened (784); the output likewise after a convolution, else
    as the last layer's width.
    """
    sized = [layer for layer in network.layers if _width(layer)]
    if not sized:
        return _shape(network.input_shape[1:], image=False)
    first = _shape(network.input_shape[1:], image=_is_conv(sized[0]))
    last = _shape(network.output_shape[1:], image=_is_conv(sized[-1]))
    hidden = [str(_width(layer)) for layer in sized[:-1]]
    return "-".join([first, *hidden, last])


def _width(layer):
    return getattr(layer, "units", None) or getattr(layer, "filters", None)


def _is_conv(layer):
    return getattr(layer, "filters", None) is not None


def _shape(shape, image):
    dims = [int(d) for d in shape]
    if image:
        return "x".join(map(str, dims))
    return str(math.prod(dims))
