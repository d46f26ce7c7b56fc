"""Check code of the lesson exercises: one module per lesson (``lesson01.py`` ...).

A lesson's setup cell imports its exercise objects (``from dlteach.exercises.lesson01 import ex1,
...``); each graded test cell calls ``exN.check("part")``. ``example.py`` is the worked example of
notebooks/README.md (used by the tests with tests/fixtures/exercise_example.py).
"""
