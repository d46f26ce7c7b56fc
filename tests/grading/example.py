"""Submissions for the worked example (tests/fixtures/exercise_example.py): the model for
tests/grading/lessonNN.py. See tests/grading/README.md."""

NOTEBOOK = "tests/fixtures/exercise_example.py"

SUBMISSIONS = {
    # -- ex1: weightedMSE ------------------------------------------------------------------------
    "ex1 blank": {
        "answers": {"ex1_answer": "<blank>"},
        "expect": {"ex1_values": (0, "not_attempted"), "ex1_inputs": (0, "not_attempted")},
    },
    "ex1 correct: loop over observations": {
        "answers": {"ex1_answer": '''
def weightedMSE(Y, T, w):
    total = np.float32(0)
    for j in range(Y.shape[1]):
        total += w[j] * np.sum((Y[:, j] - T[:, j]) ** 2)
    return total / (2 * Y.shape[1])
'''},
        "expect": {},   # every graded cell: full points, "correct"
    },
    "ex1 mistake: weights ignored": {
        "answers": {"ex1_answer": '''
def weightedMSE(Y, T, w):
    return np.mean(np.sum((Y - T) ** 2, axis=0)) / 2
'''},
        "expect": {"ex1_values": (0, "incorrect"), "ex1_inputs": (0, "incorrect")},
    },
    "ex1 mistake: float64 result (partial credit)": {
        "answers": {"ex1_answer": '''
def weightedMSE(Y, T, w):
    perObs = np.sum((Y.astype(np.float64) - T) ** 2, axis=0)
    return np.mean(w * perObs) / 2
'''},
        "expect": {"ex1_values": (2, "correct"), "ex1_inputs": (0, "incorrect")},
    },
    "ex1 mistake: clips negative predictions in place": {
        "answers": {"ex1_answer": '''
def weightedMSE(Y, T, w):
    Y[Y < 0] = 0
    return np.mean(w * np.sum((Y - T) ** 2, axis=0)) / 2
'''},
        # a third entry: a text the message must contain
        "expect": {"ex1_values": (0, "incorrect", "changed its input `Y` in place"),
                   "ex1_inputs": (0, "incorrect", "in place")},
    },
    "ex1 mistake: hard-coded visible answer": {
        "answers": {"ex1_answer": '''
def weightedMSE(Y, T, w):
    return np.float32(1.0)
'''},
        "expect": {"ex1_values": (0, "incorrect"), "ex1_inputs": (0, "incorrect")},
    },
    # -- q1: multiple choice ---------------------------------------------------------------------
    "q1 blank": {"answers": {"q1_answer": "<blank>"}, "expect": {"q1_tests": (0, "not_attempted")}},
    "q1 correct: lower case with spaces": {"answers": {"q1_answer": 'answer_q1 = " b "'}, "expect": {}},
    "q1 mistake: C": {"answers": {"q1_answer": 'answer_q1 = "C"'}, "expect": {"q1_tests": (0, "incorrect")}},
    "q1 mistake: not a letter": {"answers": {"q1_answer": "answer_q1 = 7"},
                                 "expect": {"q1_tests": (0, "incorrect")}},
}
