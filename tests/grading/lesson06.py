"""Grading-consistency submissions of lesson 06 (notebooks/06_sequences_and_outputs.py); format:
tests/grading/README.md. The lesson's graded cells (20 points):

ex1_a 1, ex1_b 2, ex2_a 1, ex2_b 2, ex3_a 1, ex3_b 2, ex4_a 1, ex4_b 1, ex5_a 1, ex5_b 2, ex5_c 1,
ex6_a 1, ex6_b 1, ex7_a 2, ex7_b 1.

Each submission touches every exercise at once (they do not interact: every check builds its own data and
networks in dlteach/exercises/lesson06.py), so 4 submissions + "solution" + "blank" cover all exercises: a
different-but-correct answer, three typical mistakes (chosen so that every graded part fails in at least two
of them, and several mistakes fail one part of an exercise and pass the other: partial credit) and a blank.
"""

NOTEBOOK = "notebooks/06_sequences_and_outputs.py"

SUBMISSIONS = {
    "correct variants (every exercise)": {
        "answers": {
        "ex1_answer": '''
def batchLayout(lengths, numChannels, direction):
    # let the library do it on dummy data, then read the sizes and the mask
    dummy = [np.zeros((L, numChannels), np.float32) for L in lengths]
    XPad, m = padsequences(dummy, 1, Direction=direction, return_mask=True)
    return dlarray(XPad, "TCB").shape, m[:, 0, :].T
''',
        "ex2_answer": '''
def preprocessMiniBatch(dataX, dataT):
    X = padsequences(dataX, 1, Direction="left")
    labels = [t[0] for t in dataT]
    T = np.stack([(classNames == label).astype(np.float32) for label in labels], axis=1)
    return X, T
''',
        "ex3_answer_a": '''
lastStepRight = " b"
''',
        "ex3_answer_b": '''
def lastRealOutputs(Y, lengths):
    Yd = np.asarray(extractdata(Y))
    last = np.asarray(lengths) - 1
    return dlarray(Yd[:, np.arange(len(lengths)), last], "CB")
''',
        "ex4_answer": '''
def addAngleHead(net, sourceName):
    net = addLayers(net, [fullyConnectedLayer(1, Name="fc_angle")])
    net = connectLayers(net, sourceName, "fc_angle/in")
    net = initialize(net)
    return net
''',
        "ex5_answer_a": '''
wrong_line = "a"
''',
        "ex5_answer_bc": '''
def modelLossTwoHeads(net, X, T1, T2, angleWeight):
    Yangle, Yprob, state = forward(net, X, Outputs=["fc_angle", "softmax"], return_state=True)
    loss = crossentropy(Yprob, T1) + mse(Yangle, T2) * angleWeight
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
''',
        "ex6_answer": '''
Ys = forward(netTwo, XFirst)                 # both outputs, in the order of netTwo.OutputNames
lossLabels0 = crossentropy(Ys[0], T1First)
lossAngles0 = mse(Ys[1], T2First)
angleWeight = 0.005
''',
        "ex7_answer": '''
from dlteach.nnc import Sub2, PowScalar


def nncTerminals(Y1, Y2, labels, T2, angleWeight):
    squared = PowScalar(Sub2(Y2, T2), 2)
    return [CategoricalCrossEntropy(Y1, labels), MulScalar(squared, 0.5 * angleWeight)]
''',
        },
        "expect": {},
    },
    "mistakes 1 (every exercise)": {
        "answers": {
        "ex1_answer": '''
def batchLayout(lengths, numChannels, direction):
    maxT = max(lengths)
    shape = (maxT, numChannels, len(lengths))           # padsequences' T x C x B
    mask = np.zeros((len(lengths), maxT), dtype=bool)
    for b, L in enumerate(lengths):
        if direction == "left":                         # left and right swapped
            mask[b, :L] = True
        else:
            mask[b, maxT - L:] = True
    return shape, mask
''',
        "ex2_answer": '''
def preprocessMiniBatch(dataX, dataT):
    X = padsequences(dataX, 1, Direction="left")
    T = onehotencode(np.concatenate(dataT), 1)          # classes taken from the mini-batch
    return X, T
''',
        "ex3_answer_a": '''
lastStepRight = "A"
''',
        "ex3_answer_b": '''
def lastRealOutputs(Y, lengths):
    return extractdata(Y)[:, :, -1]
''',
        "ex4_answer": '''
def addAngleHead(net, sourceName):
    net = addLayers(net, fullyConnectedLayer(1, Name="fc_angle"))
    net = connectLayers(net, "softmax", "fc_angle")
    return initialize(net)
''',
        "ex5_answer_a": '''
wrong_line = "B"
''',
        "ex5_answer_bc": '''
def modelLossTwoHeads(net, X, T1, T2, angleWeight):
    Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)
    loss = angleWeight * crossentropy(Y1, T1) + mse(Y2, T2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
''',
        "ex6_answer": '''
Y1, Y2 = forward(netTwo, XFirst, Outputs=["softmax", "fc_angle"])
lossLabels0 = float(crossentropy(Y1, T1First))
lossAngles0 = float(l2loss(Y2, T2First))
angleWeight = 0.1
''',
        "ex7_answer": '''
def nncTerminals(Y1, Y2, labels, T2, angleWeight):
    return [CategoricalCrossEntropy(Y1, labels), MulScalar(SquaredError(Y2, T2), angleWeight)]
''',
        },
        "expect": {
            "ex1_a": (0, "incorrect", "padsequences' output"),
            "ex1_b": (0, "incorrect", "as right padding would place it"),
            "ex2_b": (0, "incorrect", "one per class that occurs in this mini-batch"),
            "ex3_a": (0, "incorrect", "not the right time step"),
            "ex3_b": (0, "incorrect", "LAST time step of the padded batch"),
            "ex4_a": (0, "incorrect"),
            "ex4_b": (0, "incorrect", "fed by ['softmax']"),
            "ex5_a": (0, "incorrect", "not the right line"),
            "ex5_b": (0, "incorrect", "the weight applied to the cross-entropy"),
            "ex5_c": (0, "incorrect"),
            "ex6_a": (0, "incorrect", "twice"),
            "ex6_b": (0, "incorrect", "decide the gradients alone"),
            "ex7_a": (0, "incorrect", "twice MATLAB's"),
        },
    },
    "mistakes 2 (every exercise)": {
        "answers": {
        "ex1_answer": '''
def batchLayout(lengths, numChannels, direction):
    maxT = max(lengths)
    mask = np.zeros((maxT, len(lengths)), dtype=bool)   # time steps down the rows: transposed
    for b, L in enumerate(lengths):
        if direction == "right":
            mask[:L, b] = True
        else:
            mask[maxT - L:, b] = True
    return (numChannels, len(lengths), maxT), mask
''',
        "ex2_answer": '''
def preprocessMiniBatch(dataX, dataT):
    X = padsequences(dataX, 1)                          # right padding (the default)
    T = onehotencode(np.concatenate(dataT), 1, ClassNames=classNames)
    return X, T
''',
        "ex3_answer_a": '''
lastStepRight = "C"
''',
        "ex3_answer_b": '''
def lastRealOutputs(Y, lengths):
    Yd = extractdata(Y)
    return np.stack([Yd[:, b, L - 1] for b, L in enumerate(lengths)], axis=0)
''',
        "ex4_answer": '''
def addAngleHead(net, sourceName):
    net = addLayers(net, fullyConnectedLayer(1, Name="fc_angle"))
    net = connectLayers(net, sourceName, "fc_angle")
    return net
''',
        "ex5_answer_a": '''
wrong_line = "E"
''',
        "ex5_answer_bc": '''
def modelLossTwoHeads(net, X, T1, T2, angleWeight):
    Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)
    loss = crossentropy(Y1, T1) + angleWeight * l2loss(Y2, T2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
''',
        "ex6_answer": '''
Y1, Y2 = predict(netTwo, XFirst, Outputs=["softmax", "fc_angle"])
lossLabels0 = float(crossentropy(Y1, T1First))
lossAngles0 = float(mse(Y2, T2First))
angleWeight = lossAngles0 / lossLabels0
''',
        "ex7_answer": '''
def nncTerminals(Y1, Y2, labels, T2, angleWeight):
    T1 = onehotencode(labels.ravel(), 1, ClassNames=range(10))
    return [crossentropy(Y1, T1), angleWeight * mse(Y2, T2)]
''',
        },
        "expect": {
            "ex1_b": (0, "incorrect", "It looks transposed"),
            "ex2_a": (0, "incorrect", "padded on the right"),
            "ex3_a": (0, "incorrect"),
            "ex3_b": (0, "incorrect"),
            "ex4_a": (0, "incorrect", "not initialized"),
            "ex5_a": (0, "incorrect"),
            "ex5_b": (0, "incorrect", "mse is HALF"),
            "ex5_c": (0, "incorrect"),
            "ex6_a": (0, "incorrect", "forward, training mode"),
            "ex6_b": (0, "incorrect"),
            "ex7_b": (0, "incorrect", "a mean already taken"),
        },
    },
    "mistakes 3 (every exercise)": {
        "answers": {
        "ex1_answer": '''
def batchLayout(lengths, numChannels, direction):
    maxT = max(lengths)
    mask = np.zeros((len(lengths), maxT), dtype=bool)
    for b, L in enumerate(lengths):
        if direction == "right":
            mask[b, :L] = True
        else:
            mask[b, maxT - L - 1:] = True             # one step too many
    return (numChannels, maxT, len(lengths)), mask    # "CTB"
''',
        "ex2_answer": '''
def preprocessMiniBatch(dataX, dataT):
    X = padsequences(dataX, 2, Direction="left")       # dimension 2 is the channels here
    T = onehotencode(np.concatenate(dataT), 1, ClassNames=classNames)
    return X, T
''',
        "ex3_answer_a": '''
lastStepRight = "D"
''',
        "ex3_answer_b": '''
def lastRealOutputs(Y, lengths):
    Yd = extractdata(Y)
    return np.stack([Yd[:, b, L] for b, L in enumerate(lengths)], axis=1)
''',
        "ex4_answer": '''
def addAngleHead(net, sourceName):
    net = addLayers(net, fullyConnectedLayer(1))
    net = connectLayers(net, sourceName, "fc_1")
    return initialize(net)
''',
        "ex5_answer_a": '''
wrong_line = "AB"
''',
        "ex5_answer_bc": '''
def modelLossTwoHeads(net, X, T1, T2, angleWeight):
    Y1, Y2 = forward(net, X, Outputs=["softmax", "fc_angle"])
    loss = crossentropy(Y1, T1) + angleWeight * mse(Y2, T2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, net.State
''',
        "ex6_answer": '''
lossLabels0 = 2.3
lossAngles0 = 340
angleWeight = 1
''',
        "ex7_answer": '''
def nncTerminals(Y1, Y2, labels, T2, angleWeight):
    T1 = onehotencode(labels.ravel(), 1, ClassNames=range(10))
    return [CategoricalCrossEntropy(Y1, T1), MulScalar(SquaredError(Y2, T2), angleWeight / 2)]
''',
        },
        "expect": {
            "ex1_a": (0, "incorrect", "wrong order"),
            "ex1_b": (0, "incorrect", "wrong in"),
            "ex2_a": (0, "incorrect", "SizeMismatchError"),
            "ex2_b": (0, "incorrect", "SizeMismatchError"),
            "ex3_a": (0, "incorrect", "not the right time step"),
            "ex3_b": (0, "incorrect", "IndexError"),
            "ex4_a": (0, "incorrect", "Name=\"fc_angle\""),
            "ex4_b": (0, "incorrect"),
            "ex5_a": (0, "incorrect", "write one letter"),
            "ex5_c": (0, "incorrect", "not the one forward returns"),
            "ex6_a": (0, "incorrect"),
            "ex6_b": (0, "incorrect"),
            "ex7_a": (0, "incorrect", "raised"),
            "ex7_b": (0, "incorrect", "raised"),
        },
    },
}
