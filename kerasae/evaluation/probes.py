"""Codes as features: linear-probe and k-NN accuracy of a model's codes.

A representation is judged by how well a simple classifier reads the
labels off it (the evaluation of learned features since Coates, Lee and Ng
2011; "linear evaluation" in the self-supervised literature):

- `linear_probe_accuracy`: multinomial logistic regression fitted on the
  training codes (standardized, L2-penalised, full-batch gradient descent
  with Adam steps), accuracy on the test codes.
- `knn_accuracy`: the majority label of the k = 5 nearest training codes
  (Euclidean), accuracy on the test codes.

`feature_report` computes both for the model's codes and, as baselines, for
the raw inputs and for their PCA projection with as many components as the
code has units. Everything is NumPy; memory stays bounded (distances are
taken `chunk` test examples at a time).
"""

import keras
import numpy as np
from keras import ops

from kerasae.evaluation import pca


def fit_linear_classifier(train_x, train_y, steps=300, learning_rate=0.05,
                          l2=1e-4, classes=None):
    """Multinomial logistic regression on standardized features.

    Args:
        train_x: features, shape (n, ...) (flattened here).
        train_y: int labels.
        steps: full-batch Adam steps on the mean cross-entropy.
        learning_rate: Adam's step size.
        l2: weight of 0.5 * ||W||^2.
        classes: number of classes (None: the largest label + 1).

    Returns:
        `predict(x) -> int labels`, which standardizes `x` with the
        training mean and deviation.
    """
    a = np.asarray(train_x, np.float64).reshape(len(train_x), -1)
    mean, std = a.mean(axis=0), a.std(axis=0)
    std[std < 1e-8] = 1.0
    a = (a - mean) / std
    train_y = np.asarray(train_y).astype(np.int64)
    classes = classes or int(train_y.max()) + 1
    target = np.eye(classes)[train_y]
    w = np.zeros((a.shape[1], classes))
    bias = np.zeros(classes)
    m = [np.zeros_like(w), np.zeros_like(bias)]
    v = [np.zeros_like(w), np.zeros_like(bias)]
    for step in range(1, steps + 1):
        logits = a @ w + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - target) / len(a)
        grads = [a.T @ error + l2 * w, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((w, bias), grads)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad**2
            m_hat = m[i] / (1 - 0.9**step)
            v_hat = v[i] / (1 - 0.999**step)
            param -= learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)

    def predict(x):
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        return np.argmax(((x - mean) / std) @ w + bias, axis=1)

    return predict


def linear_probe_accuracy(train_x, train_y, test_x, test_y, steps=300,
                          learning_rate=0.05, l2=1e-4):
    """Test accuracy of logistic regression fitted on the training codes.

    Args:
        train_x, test_x: features, shape (n, d).
        train_y, test_y: int labels.
        steps, learning_rate, l2: as in `fit_linear_classifier`.

    Returns:
        A float in [0, 1].
    """
    predict = fit_linear_classifier(
        train_x, train_y, steps, learning_rate, l2,
        classes=int(max(train_y.max(), test_y.max())) + 1)
    return float(np.mean(predict(test_x) == test_y))


def knn_accuracy(train_x, train_y, test_x, test_y, k=5, chunk=256):
    """Test accuracy of the majority vote of the `k` nearest training codes.

    Ties go to the smallest label.
    """
    a = np.asarray(train_x, np.float32).reshape(len(train_x), -1)
    b = np.asarray(test_x, np.float32).reshape(len(test_x), -1)
    squared = np.sum(a * a, axis=1)
    classes = int(max(train_y.max(), test_y.max())) + 1
    correct = 0
    for i in range(0, len(b), chunk):
        q = b[i:i + chunk]
        distances = squared[None, :] - 2.0 * q @ a.T
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(q), classes))
        np.add.at(votes, (np.arange(len(q))[:, None], train_y[nearest]), 1)
        correct += int(np.sum(votes.argmax(axis=1) == test_y[i:i + chunk]))
    return correct / len(b)


def pca_codes(train_x, test_x, k):
    """Top-`k` PCA coordinates of train and test, fitted on train."""
    a = np.asarray(train_x, np.float64).reshape(len(train_x), -1)
    b = np.asarray(test_x, np.float64).reshape(len(test_x), -1)
    mean = a.mean(axis=0)
    basis = pca.basis(a - mean, k)
    return (a - mean) @ basis, (b - mean) @ basis


def features(model, x, batch_size=512):
    """The model's codes of `x` as float features.

    A VQ-VAE's codes are codebook indices; its features are the codebook
    entries they select (`lookup`).
    """
    out = []
    for i in range(0, len(x), batch_size):
        code = model.encode(ops.convert_to_tensor(x[i:i + batch_size]))
        if hasattr(model, "lookup"):
            code = model.lookup(code)
        out.append(keras.ops.convert_to_numpy(code))
    return np.concatenate(out).astype(np.float32)


def feature_report(model, train, test, train_examples=10000,
                   test_examples=0):
    """Linear-probe and 5-NN test accuracy of codes, pixels and PCA.

    Args:
        model: a model with an encoder.
        train, test: `Split`s with labels, model space.
        train_examples: training examples the classifiers are fitted on
            (0: all).
        test_examples: test examples they are scored on (0: all).

    Returns:
        `{"codes": {"linear", "knn5"}, "raw": {...}, "pca": {...},
        "train_examples", "test_examples", "code_size"}`.
    """
    tx = train.x[:train_examples or len(train.x)]
    ty = train.y[:len(tx)]
    ex = test.x[:test_examples or len(test.x)]
    ey = test.y[:len(ex)]
    code_train, code_test = features(model, tx), features(model, ex)
    size = int(code_train.shape[1])
    candidates = {"codes": (code_train, code_test),
                  "raw": (tx.reshape(len(tx), -1), ex.reshape(len(ex), -1)),
                  "pca": pca_codes(tx, ex, size)}
    result = {"train_examples": int(len(tx)), "test_examples": int(len(ex)),
              "code_size": size}
    for name, (a, b) in candidates.items():
        result[name] = {
            "linear": linear_probe_accuracy(a, ty, b, ey),
            "knn5": knn_accuracy(a, ty, b, ey),
        }
    return result
