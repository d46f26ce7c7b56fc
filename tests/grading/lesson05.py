"""Grading-consistency submissions of lesson 05 (notebooks/05_training_options.py); format:
tests/grading/README.md. The lesson's graded cells (18 points):

ex1_a 2, ex1_b 1, ex2_weights 1, ex2_factors 1, ex2_candidates 2, ex3_l2norm 1, ex3_global 1, ex3_absolute 1,
ex3_rows 1, ex4_a 1, ex4_b 1, ex5_net 1, ex5_averages 1, ex5_resume 1, ex6_losses 1, ex6_evaluations 1.

Each submission touches every exercise at once (they do not interact: every check builds its own
network, gradients and data in dlteach/exercises/lesson05.py), so 3 submissions + "solution" + "blank"
cover all exercises: one different-but-correct answer, two typical mistakes and a blank for each.
"""

NOTEBOOK = "notebooks/05_training_options.py"

ANSWER_CELLS = ["ex1_answer_a", "ex1_answer_b", "ex2_answer_ab", "ex2_answer_c", "ex3_answer_abc", "ex3_answer_d",
                "ex4_answer", "ex5_answer", "ex6_answer"]
GRADED = ["ex1_a", "ex1_b", "ex2_weights", "ex2_factors", "ex2_candidates", "ex3_l2norm", "ex3_global",
          "ex3_absolute", "ex3_rows", "ex4_a", "ex4_b", "ex5_net", "ex5_averages", "ex5_resume", "ex6_losses",
          "ex6_evaluations"]

SUBMISSIONS = {
    "correct variants (every exercise)": {
        "answers": {
            "ex1_answer_a": """
import math

def piecewiseLearnRate(iteration, initialLearnRate, learnRateDropPeriod, learnRateDropFactor, numIterationsPerEpoch):
    epoch = math.ceil(iteration / numIterationsPerEpoch)
    learnRate = initialLearnRate
    for e in range(1, epoch):              # the drops after the epochs before this one
        if e % learnRateDropPeriod == 0:
            learnRate = learnRate * learnRateDropFactor
    return learnRate
""",
            "ex1_answer_b": """
decayToMatch = 7 / 200
""",
            "ex2_answer_ab": """
from dlteach import Table

def regularizeGradients(gradients, net, l2Regularization):
    factors = Table(gradients.Layer, gradients.Parameter,
                    [getL2Factor(net, lay, par) for lay, par in zip(gradients.Layer, gradients.Parameter)])
    return dlupdate(lambda g, w, f: g + l2Regularization * f * w if f != 0 else g,
                    gradients, net.Learnables, factors)
""",
            "ex2_answer_c": """
equivalent = "f, b"
""",
            "ex3_answer_abc": """
def clipGradients(gradients, gradientThreshold, method):
    out = gradients[:, :]
    if method == "global-l2norm":
        norm = np.sqrt(sum(float(np.sum(extractdata(g) ** 2)) for g in out.Value))
        if norm > gradientThreshold:
            out.Value = [g * (gradientThreshold / norm) for g in out.Value]
    elif method == "l2norm":
        out.Value = [thresholdL2Norm(g, gradientThreshold) for g in out.Value]
    else:
        out.Value = [np.maximum(np.minimum(g, gradientThreshold), -gradientThreshold) for g in out.Value]
    return out
""",
            "ex3_answer_d": """
changedL2Norm = ("FC_2/bias", "fc_1/Weights", "fc_2/Weights")
changedAbsolute = ["fc_2/Bias", "fc_2/Weights", "fc_2/Bias"]
changedGlobal = [f"{r.Layer}/{r.Parameter}" for r in gradients]
""",
            "ex4_answer": """
def stopsAtValidation(validationLosses, validationPatience):
    if validationPatience == np.inf:
        return None
    window = [np.inf] * int(validationPatience)
    for k, loss in enumerate(validationLosses, start=1):
        window = window + [loss]
        if min(window) == window[0]:
            return k
        window.pop(0)
    return None
""",
            "ex5_answer": """
def saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration):
    save(filename, {"learnables": net.Learnables, "state": net.State, "averages": [averageGrad, averageSqGrad],
                    "iteration": iteration})


def loadCheckpoint(filename):
    S = load(filename)
    net = dlnetwork(layers)
    net.Learnables = S["learnables"]
    net.State = S["state"]
    averageGrad, averageSqGrad = S["averages"]
    return net, averageGrad, averageSqGrad, int(S["iteration"])
""",
            "ex6_answer": """
def trainLBFGS(net, lossFcn, maxIterations, gradientTolerance):
    numEvaluations = 0

    def counter(n):
        nonlocal numEvaluations
        numEvaluations += 1
        return lossFcn(n)

    state = lbfgsState()
    losses = []
    k = 0
    while k < maxIterations:
        k += 1
        net, state = lbfgsupdate(net, counter, state)
        losses.append(float(state.Loss))
        if state.LineSearchStatus == "failed" or state.GradientsNorm < gradientTolerance:
            break
    return net, losses, numEvaluations
""",
        },
        "expect": {},
    },
    "mistakes 1 (every exercise)": {
        "answers": {
            "ex1_answer_a": """
def piecewiseLearnRate(iteration, initialLearnRate, learnRateDropPeriod, learnRateDropFactor, numIterationsPerEpoch):
    epoch = iteration // numIterationsPerEpoch + 1
    return initialLearnRate * learnRateDropFactor ** ((epoch - 1) // learnRateDropPeriod)
""",
            "ex1_answer_b": """
decayToMatch = 0.075
""",
            "ex2_answer_ab": """
def regularizeGradients(gradients, net, l2Regularization):
    idx = net.Learnables.Parameter == "Weights"
    gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])
    return gradients
""",
            "ex2_answer_c": """
equivalent = "B"
""",
            "ex3_answer_abc": """
def clipGradients(gradients, gradientThreshold, method):
    if method == "l2norm":
        return dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)
    if method == "global-l2norm":
        globalNorm = float(np.sqrt(sum(np.sum(extractdata(g) ** 2) for g in gradients.Value)))
        return dlupdate(lambda g: g * (gradientThreshold / globalNorm), gradients)
    return dlupdate(lambda g: np.minimum(g, gradientThreshold), gradients)
""",
            "ex3_answer_d": """
changedL2Norm = ["fc_1/Weights", "fc_2/Weights", "fc_2/Bias"]
changedAbsolute = ["fc_1/Weights", "fc_2/Weights", "fc_2/Bias"]
changedGlobal = ["fc_1/Weights", "fc_1/Bias", "batchnorm/Offset", "batchnorm/Scale", "fc_2/Weights", "fc_2/Bias"]
""",
            "ex4_answer": """
def stopsAtValidation(validationLosses, validationPatience):
    smallest, count = np.inf, 0
    for k, loss in enumerate(validationLosses, start=1):
        if loss <= smallest:
            smallest, count = loss, 0
        else:
            count += 1
        if count >= validationPatience:
            return k
    return None
""",
            "ex5_answer": """
def saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration):
    save(filename, net)


def loadCheckpoint(filename):
    return load(filename), None, None, 0
""",
            "ex6_answer": """
def trainLBFGS(net, lossFcn, maxIterations, gradientTolerance):
    solverState = lbfgsState()
    losses = []
    for iteration in range(maxIterations):
        net, solverState = lbfgsupdate(net, lossFcn, solverState)
        losses.append(float(solverState.Loss))
        if solverState.GradientsNorm < gradientTolerance or solverState.LineSearchStatus == "failed":
            break
    return net, losses, len(losses)
""",
        },
        "expect": {
            "ex1_a": (0, "incorrect", "iteration 5 of 5 in epoch 1"),
            "ex1_b": (0, "incorrect", "uses a larger one"),
            "ex2_weights": (0, "incorrect", "changed the table `gradients`"),
            "ex2_factors": (0, "incorrect"),
            "ex2_candidates": (0, "incorrect"),
            "ex3_global": (0, "incorrect", "leaves it as it is"),
            "ex3_absolute": (0, "incorrect"),
            "ex3_rows": (0, "incorrect", "absolute-value"),
            "ex4_b": (0, "incorrect", "EQUAL"),
            "ex5_averages": (0, "incorrect", "not saved"),
            "ex5_resume": (0, "incorrect"),
            "ex6_evaluations": (0, "incorrect", "was called"),
        },
    },
    "mistakes 2 (every exercise)": {
        "answers": {
            "ex1_answer_a": """
def piecewiseLearnRate(iteration, initialLearnRate, learnRateDropPeriod, learnRateDropFactor, numIterationsPerEpoch):
    epoch = (iteration - 1) // numIterationsPerEpoch + 1
    return initialLearnRate * learnRateDropFactor ** (epoch // learnRateDropPeriod)
""",
            "ex1_answer_b": """
decayToMatch = 9 / 200
""",
            "ex2_answer_ab": """
def regularizeGradients(gradients, net, l2Regularization):
    out = gradients[:, :]
    idx = net.Learnables.Parameter == "Weights"
    out[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, out[idx, :], net.Learnables[idx, :])
    return out
""",
            "ex2_answer_c": """
equivalent = "BEF"
""",
            "ex3_answer_abc": """
def clipGradients(gradients, gradientThreshold, method):
    if method == "l2norm":
        return dlupdate(lambda g: g * (gradientThreshold / np.sqrt(np.sum(g ** 2))), gradients)
    if method == "global-l2norm":
        globalNorm = float(np.sqrt(sum(np.sum(extractdata(g) ** 2) for g in gradients.Value)))
        if globalNorm > gradientThreshold:
            return dlupdate(lambda g: g * (gradientThreshold / globalNorm), gradients)
        return gradients[:, :]
    return dlupdate(lambda g: np.clip(g, -gradientThreshold, gradientThreshold), gradients)
""",
            "ex3_answer_d": """
changedL2Norm = ["fc_1/Weights", "fc_2/Weights", "fc_2/Bias"]
changedAbsolute = ["fc_2/Weights", "fc_2/Bias"]
changedGlobal = ["fc_1/Weights", "batchnorm/Offset", "batchnorm/Scale", "fc_2/Weights", "fc_2/Bias"]
""",
            "ex4_answer": """
def stopsAtValidation(validationLosses, validationPatience):
    smallest, count = np.inf, 0
    for k, loss in enumerate(validationLosses):
        if loss < smallest:
            smallest, count = loss, 0
        else:
            count += 1
        if count >= validationPatience:
            return k
    return None
""",
            "ex5_answer": """
def saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration):
    save(filename, {"net": net, "averageGrad": averageGrad, "averageSqGrad": averageSqGrad})


def loadCheckpoint(filename):
    S = load(filename)
    return S["net"], S["averageGrad"], S["averageSqGrad"], 0
""",
            "ex6_answer": """
def trainLBFGS(net, lossFcn, maxIterations, gradientTolerance):
    calls = [0]

    def countingLossFcn(net):
        calls[0] += 1
        return lossFcn(net)

    solverState = lbfgsState()
    losses = []
    for iteration in range(maxIterations):
        net, solverState = lbfgsupdate(net, countingLossFcn, solverState)
        losses.append(float(solverState.Loss))
    return net, losses, calls[0]
""",
        },
        "expect": {
            "ex1_a": (0, "incorrect", "epoch 10"),
            "ex1_b": (0, "incorrect", "larger"),
            "ex2_factors": (0, "incorrect", "its L2Factor is"),
            "ex2_candidates": (0, "incorrect"),
            "ex3_l2norm": (0, "incorrect", "leaves it as it is"),
            "ex3_rows": (0, "incorrect", "global-l2norm"),
            "ex4_a": (0, "incorrect", "Count from 1"),
            "ex4_b": (0, "incorrect"),
            "ex5_resume": (0, "incorrect", "iteration counter 0"),
            "ex6_losses": (0, "incorrect", "gradient tolerance"),
        },
    },
    "blank (every exercise)": {
        "answers": {gid: "<blank>" for gid in ANSWER_CELLS},
        "expect": {gid: (0, "not_attempted") for gid in GRADED},
    },
}
