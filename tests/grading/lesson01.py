"""Grading-consistency submissions for lesson 01 (notebooks/01_model_loss_functions).

Submissions combine mistakes of different exercises that do not interact (each exercise is checked
on its own networks), so the whole set is 7 kernel runs; see tests/grading/README.md.
"""

NOTEBOOK = "notebooks/01_model_loss_functions.ipynb"

# -- answers ---------------------------------------------------------------------------------------
EX1_PRIMITIVES = '''
def modelLossWeighted(net, X, T, classWeights):
    Y = forward(net, X)
    N = T.shape[1]
    loss = -np.sum(classWeights[:, None] * T * np.log(Y)) / N
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients
'''
EX1_UNWEIGHTED = '''
def modelLossWeighted(net, X, T, classWeights):
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients
'''
EX1_SUM_NOT_MEAN = '''
def modelLossWeighted(net, X, T, classWeights):
    Y = forward(net, X)
    loss = -np.sum(classWeights[:, None] * T * np.log(Y))
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients
'''
EX1_GRADIENTS_OF_PLAIN_LOSS = '''
def modelLossWeighted(net, X, T, classWeights):
    Y = forward(net, X)
    plain = crossentropy(Y, T)
    gradients = dlgradient(plain, net.Learnables)
    loss = crossentropy(Y, T, dlarray(classWeights, "C"))
    return loss, gradients
'''

EX2_COMPUTED = '''
net2 = dlnetwork([imageInputLayer([28, 28, 1], Normalization="none"), convolution2dLayer(3, 8, Padding="same"),
                  reluLayer(), maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(10), softmaxLayer()])
n_rows2 = len(net2.Learnables)
free_layers2 = [layer.Name for layer in net2.Layers if layer.Name not in set(net2.Learnables.Layer)]
conv_weights_size2 = list(net2.Learnables.value("conv", "Weights").shape)
fc_weights_size2 = tuple(net2.Learnables.value("fc", "Weights").shape)
'''
EX2_FLOAT_COUNT_NO_PADDING = '''
n_rows2 = 4.0
free_layers2 = {"imageinput", "relu", "maxpool", "softmax"}
conv_weights_size2 = (3, 3, 1, 8)
fc_weights_size2 = (10, 13 * 13 * 8)
'''
EX2_WRONG_ROWS_CONV_ORDER = '''
n_rows2 = 2
free_layers2 = {"relu", "maxpool", "softmax"}
conv_weights_size2 = (8, 1, 3, 3)
fc_weights_size2 = (10, 14 * 14 * 8)
'''

EX3_LOOP = '''
def modelLossL2(parameters, X, T, l2):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    for name in parameters:
        W = parameters[name]["Weights"]
        loss = loss + 0.5 * l2 * np.sum(W * W)
    gradients = dlgradient(loss, parameters)
    return loss, gradients
'''
EX3_PENALTY_AFTER_GRADIENT = '''
def modelLossL2(parameters, X, T, l2):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    penalty = sum(np.sum(p["Weights"] ** 2) for p in parameters.values())
    return loss + l2 / 2 * penalty, gradients
'''
EX3_BIASES_TOO = '''
def modelLossL2(parameters, X, T, l2):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    penalty = sum(np.sum(v ** 2) for p in parameters.values() for v in p.values())
    loss = loss + l2 / 2 * penalty
    gradients = dlgradient(loss, parameters)
    return loss, gradients
'''
EX3_NO_HALF = '''
def modelLossL2(parameters, X, T, l2):
    Y = model(parameters, X)
    loss = crossentropy(Y, T) + l2 * sum(np.sum(p["Weights"] ** 2) for p in parameters.values())
    return loss, dlgradient(loss, parameters)
'''

EX4_UNPACK_FORWARD = '''
def modelLossWithState(net, X, T):
    out = forward(net, X, return_state=True)
    Y = out[0]
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), out[1]
'''
EX4_OLD_STATE = '''
def modelLossWithState(net, X, T):
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, net.State
'''
EX4_WRONG_ORDER = '''
def modelLossWithState(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, state, gradients
'''

SUBMISSIONS = {
    "different but correct (all exercises)": {
        "answers": {"ex1_answer": EX1_PRIMITIVES, "ex2_answer": EX2_COMPUTED, "ex3_answer": EX3_LOOP,
                    "ex4_answer": EX4_UNPACK_FORWARD, "q1_answer": "prediction = ' b'"},
        "expect": {},
    },
    "mistakes 1: unweighted loss, float count + no padding, penalty after dlgradient, old state, C": {
        "answers": {"ex1_answer": EX1_UNWEIGHTED, "ex2_answer": EX2_FLOAT_COUNT_NO_PADDING,
                    "ex3_answer": EX3_PENALTY_AFTER_GRADIENT, "ex4_answer": EX4_OLD_STATE,
                    "q1_answer": 'prediction = "C"'},
        "expect": {
            "ex1_loss": (0, "incorrect", "classWeights is not used"),
            "ex1_gradients": (0, "incorrect", "gradient"),
            "ex2_rows": (0, "incorrect", "should be a whole number of type int"),
            "ex2_sizes": (0, "incorrect", "`fc_weights_size2` = (10, 1352): entry 2 of 2 is not right"),
            "ex3_loss": (2, "correct"),                           # partial credit: the loss is right
            "ex3_gradients": (0, "incorrect", "gradient fc1/Weights is not what was expected"),
            "ex4_outputs": (1, "correct"),                        # partial credit
            "ex4_state": (0, "incorrect", "is the OLD one"),
            "q1_tests": (0, "incorrect", "is not the right choice"),
        },
    },
    "mistakes 2: sum instead of mean, rows/conv order, biases penalised, wrong order, not a letter": {
        "answers": {"ex1_answer": EX1_SUM_NOT_MEAN, "ex2_answer": EX2_WRONG_ROWS_CONV_ORDER,
                    "ex3_answer": EX3_BIASES_TOO, "ex4_answer": EX4_WRONG_ORDER, "q1_answer": "prediction = 2"},
        "expect": {
            "ex1_loss": (0, "incorrect", "is not what was expected"),
            "ex1_gradients": (0, "incorrect"),
            "ex2_rows": (0, "incorrect", "`n_rows2` = 2 is not the number of rows"),
            "ex2_sizes": (0, "incorrect", "`conv_weights_size2` = (8, 1, 3, 3): entry 1, 2, 3, 4 of 4"),
            "ex3_loss": (0, "incorrect", "the loss with l2 = 0.01 is not what was expected"),
            "ex3_gradients": (0, "incorrect", "gradient fc1/Bias"),
            "ex4_outputs": (0, "incorrect", "gradients has the rows"),
            "ex4_state": (0, "incorrect", "state (the third value) should be a Table"),
            "q1_tests": (0, "incorrect", "write the letter as a string"),
        },
    },
    "mistakes 3: gradients of the unweighted loss, no 1/2 in the penalty": {
        "answers": {"ex1_answer": EX1_GRADIENTS_OF_PLAIN_LOSS, "ex3_answer": EX3_NO_HALF},
        "expect": {
            "ex1_loss": (2, "correct"),                           # partial credit: the loss is right
            "ex1_gradients": (0, "incorrect", "is not what was expected"),
            "ex3_loss": (0, "incorrect", "the loss with l2 = 0.01 is not what was expected"),
            "ex3_gradients": (0, "incorrect"),
        },
    },
    "answer cells left blank one by one: ex1 and q1": {
        "answers": {"ex1_answer": "<blank>", "q1_answer": "<blank>"},
        "expect": {"ex1_loss": (0, "not_attempted"), "ex1_gradients": (0, "not_attempted"),
                   "q1_tests": (0, "not_attempted")},
    },
}
