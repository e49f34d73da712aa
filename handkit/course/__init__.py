"""The course around the notebooks: running them, opening them, building and grading editions.

* :mod:`handkit.course.notebook`: what every notebook calls first (seeding, plotly output) and
  last (its results JSON);
* :mod:`handkit.course.parameters`, :mod:`handkit.course.kernels`, :mod:`handkit.course.run`:
  headless runs with papermill (``python -m handkit run``: :mod:`handkit.course.run_cli`);
* :mod:`handkit.course.lab`: JupyterLab on working copies (``make lab``);
* :mod:`handkit.course.exercises`: the checks an exercise's test cell calls;
* :mod:`handkit.course.editions`, :mod:`handkit.course.grade`: the student and instructor
  editions and the autograder (``python -m handkit course build|grade``).
"""
