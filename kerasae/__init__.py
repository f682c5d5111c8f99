"""kerasae: train, evaluate and deploy autoencoders with TensorFlow/Keras."""

__version__ = "0.1.0"
