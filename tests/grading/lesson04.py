"""Grading-consistency submissions of lesson 04 (notebooks/04_debugging_model_loss.py); format:
tests/grading/README.md. The lesson's graded cells (17 points):

ex1_a 1, ex1_b 2, ex2_a 1, ex2_b 2, ex3_a 2, ex3_b 1,
ex4_state 1, ex4_averages 1, ex4_iteration 1, ex5_a 2, ex5_b 1, ex6_batch64 1, ex6_batch10 1.

Each submission touches every exercise at once (they do not interact: every check builds its own
network and data in dlteach/exercises/lesson04.py), so 4 submissions + "solution" + "blank" cover
all exercises: one different-but-correct answer, two typical mistakes and a blank for each. The
issue-12 findings of this lesson are among them: ``mystery_error = "keyerror"`` (correct now, in
"correct variants"), ``learnRateFixed = 3e-3`` (correct now), and the layout chosen by
``Trows.shape[0] == 10`` (0 points for the batch of 10, and the learner SEES it: "mistakes 1").
"""

NOTEBOOK = "notebooks/04_debugging_model_loss.py"

ANSWER_CELLS = ["ex1_answer_a", "ex1_answer_b", "ex2_answer_a", "ex2_answer_b", "ex3_answer_a", "ex3_answer_b",
                "ex4_answer", "ex5_answer_a", "ex5_answer_b", "ex6_answer"]

SUBMISSIONS = {
    "correct variants (every exercise)": {
        "answers": {
        "ex1_answer_a": """
mystery_error = "keyerror"
mystery_line = "c"
""",
        "ex1_answer_b": """
def modelLossWD(net, X, T, l2Factor):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    penalty = 0
    for i in range(len(net.Learnables.Parameter)):
        if net.Learnables.Parameter[i] == "Weights":
            W = net.Learnables.value(net.Learnables.Layer[i], "Weights")
            penalty = penalty + np.sum(W * W)
    loss = loss + l2Factor * penalty
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        "ex2_answer_a": """
Y, state = forward(net, X, return_state=True)
maxA = extractdata(Y).max()
Y = softmax(Y)
maxB = np.max(extractdata(Y))
loss = crossentropy(Y, T) / X.shape[-1]
lossC = loss
""",
        "ex2_answer_b": """
wrong_lines = "c, b"
""",
        "ex3_answer_a": """
def overfitTinyBatch(lossFcn, parameters, X, T, numIterations=100, learnRate=0.01):
    state = [None, None]
    out = []
    it = 0
    while it < numIterations:
        it += 1
        loss, g = dlfeval(lossFcn, parameters, X, T)
        out.append(float(extractdata(loss)))
        parameters, state[0], state[1] = adamupdate(parameters, g, state[0], state[1], it, learnRate)
    return out
""",
        "ex3_answer_b": """
failing_candidates = "cb"
""",
        "ex4_answer": """
def trainStep(net, X, T, averageGrad, averageSqGrad, iteration):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                 0.001, 0.9)
    return net, averageGrad, averageSqGrad, loss
""",
        "ex5_answer_a": """
cause_P = " c"
cause_Q = "a"
cause_R = "B"
""",
        "ex5_answer_b": """
learnRateFixed = 3e-3
""",
        "ex6_answer": """
def modelLossRows(net, X, Trows):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, Trows.T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        },
        "expect": {},
    },
    "mistakes 1 (every exercise)": {
        "answers": {
        "ex1_answer_a": """
mystery_error = "NotTracedError"
mystery_line = "E"
""",
        "ex1_answer_b": """
def modelLossWD(net, X, T, l2Factor):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    for p, W in zip(net.Learnables.Parameter, net.Learnables.Value):
        if p == "Weights":
            loss = loss + l2Factor * float(np.sum(extractdata(W) ** 2))
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        "ex2_answer_a": """
maxA = 1.0
maxB = 1.0
lossC = 2.3
""",
        "ex2_answer_b": """
wrong_lines = "C"
""",
        "ex3_answer_a": """
def overfitTinyBatch(lossFcn, parameters, X, T, numIterations=100, learnRate=0.01):
    averageGrad = averageSqGrad = None
    losses = []
    for iteration in range(1, numIterations + 1):
        loss, gradients = dlfeval(lossFcn, parameters, X, T)
        parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad, 1,
                                                            learnRate=learnRate)
        losses.append(float(loss))
    return losses
""",
        "ex3_answer_b": """
failing_candidates = "BCD"
""",
        "ex4_answer": """
def trainStep(net, X, T, averageGrad, averageSqGrad, iteration):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, 1)
    return net, averageSqGrad, averageGrad, loss
""",
        "ex5_answer_a": """
cause_P = "B"
cause_Q = "A"
cause_R = "C"
""",
        "ex5_answer_b": """
learnRateFixed = 0.01
""",
        "ex6_answer": """
def modelLossRows(net, X, Trows):
    T = Trows.T if Trows.shape[0] != 10 else Trows
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        },
        "expect": {
            "ex1_a": (0, "incorrect", "not the right exception class"),
            "ex1_b": (0, "incorrect", "lacks the penalty's term"),
            "ex2_a": (0, "incorrect"),
            "ex2_b": (0, "incorrect"),
            "ex3_a": (0, "incorrect", "differ from Adam's"),
            "ex3_b": (0, "incorrect"),
            "ex4_state": (0, "incorrect", "still has its initial state"),
            "ex4_averages": (0, "incorrect", "swapped"),
            "ex4_iteration": (0, "incorrect", "as if it were iteration 1"),
            "ex5_a": (0, "incorrect"),
            "ex5_b": (0, "incorrect", "loss_rising"),
            "ex6_batch10": (0, "incorrect", "wrong layout"),
        },
    },
    "mistakes 2 (every exercise)": {
        "answers": {
        "ex1_answer_a": """
mystery_error = "KeyError"
mystery_line = "D"
""",
        "ex1_answer_b": """
def modelLossWD(net, X, T, l2Factor):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    W = net.Learnables.value("fc", "Weights")
    loss = loss + l2Factor * np.sum(W ** 2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        "ex2_answer_a": """
Y, state = forward(net, X, return_state=True)
maxA = float(extractdata(Y).max())
maxB = float(extractdata(softmax(Y)).max())
lossC = float(crossentropy(Y, T))
""",
        "ex2_answer_b": """
wrong_lines = "ABC"
""",
        "ex3_answer_a": """
def overfitTinyBatch(lossFcn, parameters, X, T, numIterations=100, learnRate=0.01):
    averageGrad = averageSqGrad = None
    losses = []
    for iteration in range(1, numIterations + 1):
        loss, gradients = dlfeval(lossFcn, parameters, X, T)
        parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad, iteration)
        losses.append(float(loss))
    return losses
""",
        "ex3_answer_b": """
failing_candidates = "B"
""",
        "ex4_answer": """
def trainStep(net, X, T, averageGrad, averageSqGrad, iteration):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, 1)
    return net, averageGrad, averageSqGrad, loss
""",
        "ex5_answer_a": """
cause_P = "C"
cause_Q = "A"
cause_R = "D"
""",
        "ex5_answer_b": """
learnRateFixed = 1e-5
""",
        "ex6_answer": """
def modelLossRows(net, X, Trows):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, Trows)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
""",
        },
        "expect": {
            "ex1_a": (0, "incorrect", "not the right line"),
            "ex1_b": (0, "incorrect", "Is every weight array included"),
            "ex2_a": (0, "incorrect"),
            "ex2_b": (0, "incorrect"),
            "ex3_a": (0, "incorrect"),
            "ex3_b": (0, "incorrect"),
            "ex4_iteration": (0, "incorrect", "as if it were iteration 1"),
            "ex5_a": (0, "incorrect"),
            "ex5_b": (0, "incorrect", "learns too slowly"),
            "ex6_batch64": (0, "incorrect", "SizeMismatchError"),
            "ex6_batch10": (0, "incorrect", "wrong layout"),
        },
    },
    "blank (every exercise)": {
        "answers": {gid: "<blank>" for gid in ANSWER_CELLS},
        "expect": {gid: (0, "not_attempted") for gid in [
            "ex1_a", "ex1_b", "ex2_a", "ex2_b", "ex3_a", "ex3_b", "ex4_state",
            "ex4_averages", "ex4_iteration", "ex5_a", "ex5_b", "ex6_batch64", "ex6_batch10"]},
    },
}
