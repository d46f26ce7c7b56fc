"""Grading-consistency submissions for lesson 03 (custom training loops); see tests/grading/README.md.

Every exercise has a blank, a different-but-correct answer and at least two typical mistakes. The mistakes of
different exercises do not interact (each check calls only its own exercise's function), so one submission
carries one mistake per exercise. Partial credit: a mistake that breaks one part of an exercise keeps the
points of its other parts (e.g. the counter reset every epoch: ex2_a and ex2_c full, ex2_b 0)."""

NOTEBOOK = "notebooks/03_custom_training_loops.ipynb"

SUBMISSIONS = {
    'blank: nothing solved': {
        "answers": {
            "ex1_answer": "<blank>",
            "ex2_answer": "<blank>",
            "ex3_answer": "<blank>",
            "ex4_answer": "<blank>",
            "ex5_answer": "<blank>",
            "ex6_answer": "<blank>",
            "ex7_answer": "<blank>",
        },
        "expect": {'ex1_a': (0, 'not_attempted'), 'ex1_b': (0, 'not_attempted'), 'ex2_a': (0, 'not_attempted'), 'ex2_b': (0, 'not_attempted'), 'ex2_c': (0, 'not_attempted'), 'ex3_a': (0, 'not_attempted'), 'ex3_b': (0, 'not_attempted'), 'ex4_tests': (0, 'not_attempted'), 'ex5_a': (0, 'not_attempted'), 'ex5_b': (0, 'not_attempted'), 'ex6_a': (0, 'not_attempted'), 'ex6_b': (0, 'not_attempted'), 'ex7_a': (0, 'not_attempted'), 'ex7_b': (0, 'not_attempted')},
    },
    'correct, written differently: every exercise': {
        "answers": {
            "ex1_answer": '''
def makeQueue(XRaw, labels, miniBatchSize, seed):
    def prep(X, y):
        T = onehotencode(y, 1, ClassNames=np.arange(10))
        return X.astype(np.float32) / np.float32(255.0), T
    q = minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, MiniBatchFcn=prep,
                       MiniBatchFormat=["SSCB", "CB"], PartialMiniBatch="discard", seed=seed)
    return q
''',
            "ex2_answer": '''
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    state = {"m": None, "v": None}
    losses = []
    it = 0
    for _ in range(numEpochs):
        shuffle(mbq)
        for X, T in mbq:
            it = it + 1
            L, G = dlfeval(modelLossFcn, parameters, X, T)
            parameters, state["m"], state["v"] = adamupdate(parameters, G, state["m"], state["v"], it,
                                                            learnRate=learnRate)
            losses.append(L.item() if hasattr(L, "item") else float(L))
    return parameters, [float(l) for l in losses]
''',
            "ex3_answer": '''
def modelLossAcc(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq) and not monitor.Stop:
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            accuracy = float(np.mean(np.argmax(extractdata(Y), axis=0) == np.argmax(extractdata(T), axis=0)))
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad,
                                                                averageSqGrad, iteration, learnRate)
            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)
            monitor.Progress = 50
    return parameters, iteration
''',
            "ex4_answer": '''
seed_mistakes = ["d", "b "]
''',
            "ex5_answer": '''
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    v2 = v * sqGradDecay + g * g * (1 - sqGradDecay)
    return theta - g * learnRate / (v2 ** 0.5 + epsilon), v2
''',
            "ex6_answer": '''
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    w_new = w + momentum * vel - learnRate * g
    vel_new = w_new - w
    return w_new, vel_new
''',
            "ex7_answer": '''
def clipGlobalNorm(gradients, gradientThreshold):
    total = 0.0
    for layer in gradients:
        for name in gradients[layer]:
            total += float(np.sum(extractdata(gradients[layer][name]).astype(np.float64) ** 2))
    n = total ** 0.5
    factor = min(1.0, gradientThreshold / n)
    return dlupdate(lambda g: g * np.float32(factor), gradients)
''',
        },
        "expect": {},
    },
    'mistakes A: partial mini-batch kept, counter reset every epoch, Stop tested only in the epoch loop, {A, B}, epsilon inside the square root, velocity with the wrong sign, clipping per array': {
        "answers": {
            "ex1_answer": '''
def makeQueue(XRaw, labels, miniBatchSize, seed):
    def preprocess(X, labels):
        return X / 255, onehotencode(labels, 1, ClassNames=classes)
    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize,
                          MiniBatchFcn=preprocess, MiniBatchFormat=["SSCB", "CB"], seed=seed)
''',
            "ex2_answer": '''
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    lossHistory = []
    for epoch in range(numEpochs):
        shuffle(mbq)
        iteration = 0
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLossFcn, parameters, X, T)
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                                iteration, learnRate)
            lossHistory.append(float(loss))
    return parameters, lossHistory
''',
            "ex3_answer": '''
def modelLossAcc(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            accuracy = np.mean(onehotdecode(Y, classes, 1) == onehotdecode(T, classes, 1))
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad,
                                                                averageSqGrad, iteration, learnRate)
            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
    return parameters, iteration
''',
            "ex4_answer": '''
seed_mistakes = {"A", "B"}
''',
            "ex5_answer": '''
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    v_new = sqGradDecay * v + (1 - sqGradDecay) * g ** 2
    theta_new = theta - learnRate * g / np.sqrt(v_new + epsilon)
    return theta_new, v_new
''',
            "ex6_answer": '''
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    vel_new = momentum * vel + learnRate * g
    w_new = w - vel_new
    return w_new, vel_new
''',
            "ex7_answer": '''
def clipGlobalNorm(gradients, gradientThreshold):
    def clip(g):
        n = float(np.sqrt(np.sum(extractdata(g) ** 2)))
        return g * np.float32(gradientThreshold / n) if n > gradientThreshold else g
    return dlupdate(clip, gradients)
''',
        },
        "expect": {'ex1_a': (0, 'incorrect', 'must be dropped'), 'ex2_b': (0, 'incorrect', 'counter starts again at 0'), 'ex3_b': (0, 'incorrect', 'Stop was clicked during iteration'), 'ex4_tests': (0, 'incorrect'), 'ex5_a': (0, 'incorrect', 'what epsilon is added to'), 'ex6_a': (0, 'incorrect'), 'ex6_b': (0, 'incorrect'), 'ex7_b': (0, 'incorrect', 'clipped on its own')},
    },
    'mistakes B: no ClassNames, learnRate not passed on, accuracy after the update, a string, v updated in place, the old velocity, always rescaled': {
        "answers": {
            "ex1_answer": '''
def makeQueue(XRaw, labels, miniBatchSize, seed):
    def preprocess(X, labels):
        return X / 255, onehotencode(labels, 1)
    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, PartialMiniBatch="discard",
                          MiniBatchFcn=preprocess, MiniBatchFormat=["SSCB", "CB"], seed=seed)
''',
            "ex2_answer": '''
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    lossHistory = []
    for epoch in range(numEpochs):
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLossFcn, parameters, X, T)
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad, iteration)
            lossHistory.append(float(loss))
    return parameters, lossHistory
''',
            "ex3_answer": '''
def modelLossAcc(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq) and not monitor.Stop:
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad,
                                                                averageSqGrad, iteration, learnRate)
            accuracy = np.mean(onehotdecode(model(parameters, X), classes, 1) == onehotdecode(T, classes, 1))
            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
    return parameters, iteration
''',
            "ex4_answer": '''
seed_mistakes = "BD"
''',
            "ex5_answer": '''
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    v *= sqGradDecay
    v += (1 - sqGradDecay) * g ** 2
    theta_new = theta - learnRate * g / (np.sqrt(v) + epsilon)
    return theta_new, v
''',
            "ex6_answer": '''
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    vel_new = momentum * vel - learnRate * g
    w_new = w + vel
    return w_new, vel_new
''',
            "ex7_answer": '''
def clipGlobalNorm(gradients, gradientThreshold):
    sq = dlupdate(lambda g: float(np.sum(extractdata(g) ** 2)), gradients)
    globalNorm = np.sqrt(sum(s for layer in sq.values() for s in layer.values()))
    if True:
        scale = np.float32(gradientThreshold / globalNorm)
        gradients = dlupdate(lambda g: g * scale, gradients)
    return gradients
''',
        },
        "expect": {'ex1_b': (0, 'incorrect', 'instead of 10'), 'ex2_c': (0, 'incorrect', 'never reaches adamupdate'), 'ex3_a': (0, 'incorrect', 'same forward pass'), 'ex4_tests': (0, 'incorrect', 'not a single string'), 'ex5_a': (0, 'incorrect', 'changed its input `v` in place'), 'ex5_b': (0, 'incorrect', 'in place'), 'ex6_a': (0, 'incorrect'), 'ex6_b': (0, 'incorrect'), 'ex7_a': (0, 'incorrect')},
    },
    'mistakes C: images not scaled, moving averages reset every epoch, Stop tested only in the mini-batch loop, one letter, fixed numbers instead of the arguments, values swapped, float64': {
        "answers": {
            "ex1_answer": '''
def makeQueue(XRaw, labels, miniBatchSize, seed):
    def preprocess(X, labels):
        return X, onehotencode(labels, 1, ClassNames=classes)
    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, PartialMiniBatch="discard",
                          MiniBatchFcn=preprocess, MiniBatchFormat=["SSCB", "CB"], seed=seed)
''',
            "ex2_answer": '''
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    lossHistory = []
    for epoch in range(numEpochs):
        shuffle(mbq)
        averageGrad = averageSqGrad = None
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLossFcn, parameters, X, T)
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                                iteration, learnRate)
            lossHistory.append(float(loss))
    return parameters, lossHistory
''',
            "ex3_answer": '''
def modelLossAcc(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq) and not monitor.Stop:
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            accuracy = np.mean(onehotdecode(Y, classes, 1) == onehotdecode(T, classes, 1))
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad,
                                                                averageSqGrad, iteration, learnRate)
            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
    return parameters, iteration
''',
            "ex4_answer": '''
seed_mistakes = {"B"}
''',
            "ex5_answer": '''
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    v_new = 0.9 * v + 0.1 * g ** 2
    theta_new = theta - 0.001 * g / (np.sqrt(v_new) + epsilon)
    return theta_new, v_new
''',
            "ex6_answer": '''
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    vel_new = momentum * vel - learnRate * g
    w_new = w + vel_new
    return vel_new, w_new
''',
            "ex7_answer": '''
def clipGlobalNorm(gradients, gradientThreshold):
    sq = dlupdate(lambda g: float(np.sum(extractdata(g) ** 2)), gradients)
    globalNorm = np.sqrt(sum(s for layer in sq.values() for s in layer.values()))
    if globalNorm > gradientThreshold:
        scale = gradientThreshold / globalNorm
        gradients = dlupdate(lambda g: dlarray(extractdata(g).astype(np.float64) * scale), gradients)
    return gradients
''',
        },
        "expect": {'ex1_a': (0, 'incorrect', 'should lie in [0, 1]'), 'ex2_b': (0, 'incorrect', 'moving averages start again'), 'ex3_b': (0, 'incorrect', 'without starting another epoch'), 'ex4_tests': (0, 'incorrect', 'exactly two mistakes'), 'ex5_a': (0, 'incorrect'), 'ex5_b': (0, 'incorrect'), 'ex6_a': (0, 'incorrect'), 'ex6_b': (0, 'incorrect'), 'ex7_b': (0, 'incorrect', 'float64')},
    },
    'mistakes D: no seed, updated parameters not kept, no Accuracy recorded, gradients changed in place': {
        "answers": {
            "ex1_answer": '''
def makeQueue(XRaw, labels, miniBatchSize, seed):
    def preprocess(X, labels):
        return X / 255, onehotencode(labels, 1, ClassNames=classes)
    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, PartialMiniBatch="discard",
                          MiniBatchFcn=preprocess, MiniBatchFormat=["SSCB", "CB"])
''',
            "ex2_answer": '''
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    lossHistory = []
    for epoch in range(numEpochs):
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLossFcn, parameters, X, T)
            newParams, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                                iteration, learnRate)
            lossHistory.append(float(loss))
    return parameters, lossHistory
''',
            "ex3_answer": '''
def modelLossAcc(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq) and not monitor.Stop:
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            accuracy = np.mean(onehotdecode(Y, classes, 1) == onehotdecode(T, classes, 1))
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad,
                                                                averageSqGrad, iteration, learnRate)
            recordMetrics(monitor, iteration, Loss=loss)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
    return parameters, iteration
''',
            "ex7_answer": '''
def clipGlobalNorm(gradients, gradientThreshold):
    sq = dlupdate(lambda g: float(np.sum(extractdata(g) ** 2)), gradients)
    globalNorm = np.sqrt(sum(s for layer in sq.values() for s in layer.values()))
    if globalNorm > gradientThreshold:
        for layer in gradients:
            for name in gradients[layer]:
                gradients[layer][name] = gradients[layer][name] * np.float32(gradientThreshold / globalNorm)
    return gradients
''',
        },
        "expect": {'ex1_b': (0, 'incorrect', 'same seed'), 'ex2_a': (0, 'incorrect', 'initial ones'), 'ex2_b': (0, 'incorrect'), 'ex2_c': (0, 'incorrect'), 'ex3_a': (0, 'incorrect', 'once per iteration'), 'ex7_b': (0, 'incorrect', 'in place')},
    },
}
