"""Grading-consistency submissions of lesson 02 (notebooks/02_squared_error_from_primitives.py).

Format: tests/grading/example.py. "solution" and "blank" are added by the harness; every other submission is the
solution with the listed answer cells replaced, and graded cells not listed in "expect" keep full points.
Each submission below changes the answers of several exercises at once (every check of lesson 02 builds its
own inputs, so the exercises do not influence each other's grades): five notebooks to autograde instead of
thirty. Together they give every exercise two different-but-correct or blank variants and three typical
mistakes, each with the words its message must contain.
"""

NOTEBOOK = "notebooks/02_squared_error_from_primitives.py"

SUBMISSIONS = {
    'correct variants A (ex1, ex3, ex5) with blanks (ex2, ex4, ex6)': {
        "answers": {
            # ex1 correct: built-in sum of nnc.Mean
            'ex1_answer': '''
def sum_of_means(terminals):
    return sum(nnc.Mean(y) for y in terminals)
''',
            # ex2 blank
            'ex2_answer': "<blank>",
            # ex3 correct: NumPy operators
            'ex3_answer': '''
def weighted_bce(x, t, w=1.0):
    return -w * t * np.log(x) - (1 - t) * np.log(1 - x)
''',
            # ex4 blank
            'ex4_answer': "<blank>",
            'ex4_gradient_answer': "<blank>",
            # ex5 correct: operators and np.mean
            'ex5_answer': '''
def modelLoss(net, X):
    Y, state = forward(net, X, return_state=True)
    loss = np.mean((Y - X) ** 2)
    return loss, dlgradient(loss, net.Learnables), state
''',
            # ex6 blank
            'ex6_answer': "<blank>",
        },
        "expect": {
            'ex2_settings': (0, 'not_attempted'),
            'ex4_loss': (0, 'not_attempted'),
            'ex4_gradient': (0, 'not_attempted'),
            'ex6_output': (0, 'not_attempted'),
            'ex6_batchstat': (0, 'not_attempted'),
        },
    },
    'correct variants B (ex2, ex4, ex6) with blanks (ex1, ex3, ex5)': {
        "answers": {
            # ex1 blank
            'ex1_answer': "<blank>",
            # ex2 correct: other form of the same formulas
            'ex2_answer': '''
def network_C_settings(P, K, lam):
    return 1 + K / P, P * lam / K
''',
            # ex3 blank
            'ex3_answer': "<blank>",
            # ex4 correct: np.where for the loss, np.clip for the slope
            'ex4_answer': '''
def huber_loss(x0, x1, delta=1.0):
    d = x0 - x1
    return np.where(np.abs(d) < delta, d ** 2, delta * (2 * np.abs(d) - delta))
''',
            'ex4_gradient_answer': '''
def huber_gradient(x0, x1, delta=1.0):
    return np.clip(2 * (x0 - x1), -2 * delta, 2 * delta)
''',
            # ex5 blank
            'ex5_answer': "<blank>",
            # ex6 correct: batch normalisation written out
            'ex6_answer': '''
def runtimeNetwork(params, state, X):
    p, s = params, state["bn1"]
    Z = fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])
    Z = (Z - s["TrainedMean"]) / np.sqrt(s["TrainedVariance"] + 1e-5) * p["bn1"]["Scale"] + p["bn1"]["Offset"]
    return sigmoid(fullyconnect(np.maximum(Z, 0), p["fc2"]["Weights"], p["fc2"]["Bias"]))
''',
        },
        "expect": {
            'ex1_rule': (0, 'not_attempted'),
            'ex3_bce': (0, 'not_attempted'),
            'ex3_weighted': (0, 'not_attempted'),
            'ex5_loss': (0, 'not_attempted'),
            'ex5_gradients': (0, 'not_attempted'),
        },
    },
    'mistakes A': {
        "answers": {
            # ex1 mistake: np.sum of a list (cuts the gradient)
            'ex1_answer': '''
def sum_of_means(terminals):
    return np.sum([np.mean(y) for y in terminals])
''',
            # ex2 mistake: the same lambda
            'ex2_answer': '''
def network_C_settings(P, K, lam):
    return (P + K) / P, lam
''',
            # ex3 mistake: both terms weighted (partial credit)
            'ex3_answer': '''
def weighted_bce(x, t, w=1.0):
    return -w * (t * np.log(x) + (1 - t) * np.log(1 - x))
''',
            # ex4 mistake: textbook Huber (half of NNC's)
            'ex4_answer': '''
def huber_loss(x0, x1, delta=1.0):
    d = x0 - x1
    return np.where(np.abs(d) < delta, 0.5 * d ** 2, delta * (np.abs(d) - delta / 2))
''',
            'ex4_gradient_answer': '''
def huber_gradient(x0, x1, delta=1.0):
    d = x0 - x1
    return np.where(np.abs(d) < delta, d, delta * np.sign(d))
''',
            # ex5 mistake: MATLAB's l2loss scale
            'ex5_answer': '''
def modelLoss(net, X):
    Y, state = forward(net, X, return_state=True)
    loss = l2loss(Y, X)
    return loss, dlgradient(loss, net.Learnables), state
''',
            # ex6 mistake: BatchStat still True (partial credit)
            'ex6_answer': '''
def runtimeNetwork(params, state, X):
    H = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    H, _, _ = batchnorm(H, params["bn1"]["Offset"], params["bn1"]["Scale"],
                        state["bn1"]["TrainedMean"], state["bn1"]["TrainedVariance"], training=True)
    H = relu(H)
    return sigmoid(fullyconnect(H, params["fc2"]["Weights"], params["fc2"]["Bias"]))
''',
        },
        "expect": {
            'ex1_rule': (0, 'incorrect', 'Python LIST of dlarrays'),
            'ex2_settings': (0, 'incorrect', 'Both factors must match'),
            'ex3_weighted': (0, 'incorrect', 'BOTH terms'),
            'ex4_loss': (0, 'incorrect', 'textbook Huber'),
            'ex4_gradient': (0, 'incorrect', 'textbook'),
            'ex5_loss': (0, 'incorrect', 'l2loss scale'),
            'ex5_gradients': (0, 'incorrect'),
            'ex6_batchstat': (0, 'incorrect', 'BatchStat True'),
        },
    },
    'mistakes B': {
        "answers": {
            # ex1 mistake: one mean over all numbers
            'ex1_answer': '''
def sum_of_means(terminals):
    total = sum(np.sum(y) for y in terminals)
    count = sum(np.size(y) for y in terminals)
    return total / count
''',
            # ex2 mistake: c forgotten
            'ex2_answer': '''
def network_C_settings(P, K, lam):
    return 1.0, lam * P / K
''',
            # ex3 mistake: averaged inside the layer
            'ex3_answer': '''
def weighted_bce(x, t, w=1.0):
    return np.mean(-(w * t * np.log(x) + (1 - t) * np.log(1 - x)))
''',
            # ex4 mistake: slope without the sign (partial credit)
            'ex4_gradient_answer': '''
def huber_gradient(x0, x1, delta=1.0):
    d = x0 - x1
    return np.where(np.abs(d) < delta, 2 * d, 2 * delta)
''',
            # ex5 mistake: returns the old state (partial credit)
            'ex5_answer': '''
def modelLoss(net, X):
    Y, state = forward(net, X, return_state=True)
    loss = nnc.nnc_loss(nnc.PowScalar(nnc.Sub2(Y, X), 2))
    return loss, dlgradient(loss, net.Learnables), net.State
''',
            # ex6 mistake: the loss part kept
            'ex6_answer': '''
def runtimeNetwork(params, state, X):
    H = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    H = batchnorm(H, params["bn1"]["Offset"], params["bn1"]["Scale"],
                  state["bn1"]["TrainedMean"], state["bn1"]["TrainedVariance"], training=False)
    Y = sigmoid(fullyconnect(relu(H), params["fc2"]["Weights"], params["fc2"]["Bias"]))
    return nnc.PowScalar(nnc.Sub2(Y, X), 2)
''',
        },
        "expect": {
            'ex1_rule': (0, 'incorrect', 'mean of all 8 numbers together'),
            'ex2_settings': (0, 'incorrect'),
            'ex3_bce': (0, 'incorrect', 'element-wise'),
            'ex3_weighted': (0, 'incorrect'),
            'ex4_gradient': (0, 'incorrect', 'signs are wrong'),
            'ex5_gradients': (0, 'incorrect', 'OLD state'),
            'ex6_output': (0, 'incorrect', 'loss part'),
            'ex6_batchstat': (0, 'incorrect'),
        },
    },
    'mistakes C': {
        "answers": {
            # ex1 mistake: float()
            'ex1_answer': '''
def sum_of_means(terminals):
    return float(sum(np.mean(y) for y in terminals))
''',
            # ex2 mistake: hard-coded for 784 and 32
            'ex2_answer': '''
def network_C_settings(P, K, lam):
    return 816 / 784, 0.01 * 784 / 32
''',
            # ex3 mistake: minus sign missing
            'ex3_answer': '''
def weighted_bce(x, t, w=1.0):
    return w * t * np.log(x) + (1 - t) * np.log(1 - x)
''',
            # ex4 mistake: delta ignored in the condition
            'ex4_answer': '''
def huber_loss(x0, x1, delta=1.0):
    d = x0 - x1
    return np.where(np.abs(d) < 1.0, d ** 2, delta * (2 * np.abs(d) - delta))
''',
            # ex5 mistake: predict instead of forward
            'ex5_answer': '''
def modelLoss(net, X):
    Y = predict(net, X)
    loss = nnc.nnc_loss(nnc.PowScalar(nnc.Sub2(Y, X), 2))
    return loss, dlgradient(loss, net.Learnables), net.State
''',
            # ex6 mistake: returns the state too
            'ex6_answer': '''
def runtimeNetwork(params, state, X):
    E, newState = mainNetwork(params, state, X)
    return X - np.sqrt(E), newState
''',
        },
        "expect": {
            'ex1_rule': (0, 'incorrect', 'remove float(...)'),
            'ex2_settings': (0, 'incorrect'),
            'ex3_bce': (0, 'incorrect', 'wrong sign'),
            'ex3_weighted': (0, 'incorrect'),
            'ex4_loss': (0, 'incorrect'),
            'ex5_loss': (0, 'incorrect', "predict's output"),
            'ex5_gradients': (0, 'incorrect'),
            'ex6_output': (0, 'incorrect', 'returned a tuple'),
            'ex6_batchstat': (0, 'incorrect'),
        },
    },
    "mistakes D: the built-in layers": {
        "answers": {
            'ex3_answer': '''
def weighted_bce(x, t, w=1.0):
    return nnc.BinaryCrossEntropy(x, t)
''',
            'ex4_answer': '''
def huber_loss(x0, x1, delta=1.0):
    return nnc.HuberLoss(x0, x1, delta)
''',
        },
        "expect": {"ex3_bce": (0, "incorrect", "calls nnc.BinaryCrossEntropy"), "ex3_weighted": (0, "incorrect"),
                   "ex4_loss": (0, "incorrect", "calls nnc.HuberLoss")},
    },
}
