"""nbgrader configuration for instructors of the dlteach course.

nbgrader reads ``nbgrader_config.py`` from the directory you run it in, so run every ``nbgrader``
command from the repository root (or copy this file into your course directory). The step-by-step
workflow is in notebooks/README.md. The course directory is ``course/`` next to this file
(git-ignored)::

    course/
      nbgrader_config.py?    (not needed: this file sets the root)
      gradebook.db           sqlite gradebook, created automatically
      source/<assignment>/NN_name.ipynb           instructor versions (tools/generate_student.py
                                                  --course-dir course copies them here)
      release/<assignment>/NN_name.ipynb          student versions (generate_assignment)
      submitted/<student>/<assignment>/NN_name.ipynb
      autograded/<student>/<assignment>/NN_name.ipynb
      feedback/<student>/<assignment>/NN_name.html

Requires the instructor extra: ``pip install -e '.[instructor]'`` and the environment's ``bin/``
on PATH (activate the venv): ``generate_assignment`` runs the ``alembic`` executable.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

_HERE = os.path.dirname(os.path.abspath(__file__))

# --- course directory --------------------------------------------------------------------------
c.CourseDirectory.course_id = "dlteach"
c.CourseDirectory.root = os.path.join(_HERE, "course")

# --- generating the student version ------------------------------------------------------------
# The stub replacing a solution is the blank ``____`` (dlteach.checks.____), NOT nbgrader's default
# ``raise NotImplementedError()``: a stub that raises at the top level of a cell stops Run All at
# the first unsolved exercise. ``____`` is harmless at the top level and as a function body; the
# checks report a missing name, the blank itself or a function still containing ``____`` as
# "Not attempted yet" (dlteach/checks.py). Lessons import ``____`` in their setup cell.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\n____"}
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# --- autograding -------------------------------------------------------------------------------
# nbgrader's default is 30 s *per cell*, too short for the training cells of the lessons.
# Note the class name: Execute (nbgrader's), not ExecutePreprocessor (a classic mistake).
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True   # a student's endless loop is interrupted, grading goes on
c.Execute.execute_retries = 0
# Keep autograded notebooks (and thus feedback) small when a student prints in a loop.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

# --- feedback ----------------------------------------------------------------------------------
# By default the feedback HTML shows the hidden tests (nbgrader issue #917). ClearHiddenTests
# after GetGrades removes the "### BEGIN HIDDEN TESTS" blocks from the feedback.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]

# --- collecting submissions without JupyterHub -------------------------------------------------
# nbgrader zip_collect: LMS downloads (one zip per assignment) are unpacked into
# course/downloaded/<assignment>/archive/ and mapped to submitted/<student>/<assignment>/ by file
# name. The default regexp below expects "<student_id>_<anything>_<NN_name>.ipynb" (Moodle/Canvas
# style "jdoe_12345_01_model_loss_functions.ipynb"); adapt it to your LMS.
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?P<student_id>[^_]+)_(?:[^_]+_)*?(?P<file_id>\d\d_[A-Za-z0-9_]+\.ipynb)$"
)

# --- exchange (only for nbgrader release_assignment/collect with JupyterHub) -------------------
# c.Exchange.root = "/srv/nbgrader/exchange"
