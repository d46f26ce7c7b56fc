"""Objects several lessons' checks rebuild: the shipped training digits, a mini-batch of them, and the
network-style model loss function of MATLAB's custom-loop pages (``[loss, gradients, state] = modelLoss(net, X, T)``).
"""

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def train_digits():
    """The shipped training digits: ``XTrain`` (28x28x1xN float32) and one-hot ``TTrain`` (10xN float32)."""
    import dlteach

    XTrain, _labels, TTrain = dlteach.load_digits("train")
    return XTrain, TTrain


def digit_batch(start, n):
    """n training digits from ``start``: X (SSCB dlarray), T (10 x n float32, CB layout)."""
    import dlteach

    XTrain, TTrain = train_digits()
    return dlteach.dlarray(XTrain[:, :, :, start:start + n], "SSCB"), np.ascontiguousarray(TTrain[:, start:start + n])


def model_loss_with_state(net, X, T):
    """MATLAB's ``[loss, gradients, state] = modelLoss(net, X, T)`` with cross-entropy."""
    import dlteach

    Y, state = dlteach.forward(net, X, return_state=True)
    loss = dlteach.crossentropy(Y, T)
    return loss, dlteach.dlgradient(loss, net.Learnables), state
