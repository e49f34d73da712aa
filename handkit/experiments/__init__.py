"""The kit's experiments: each trains, evaluates and reports one question of the paper.

* :mod:`handkit.experiments.table1`: the synthetic Table I (``python -m handkit experiment
  table1``), with its files (:mod:`~handkit.experiments.table1_files`) and report
  (:mod:`~handkit.experiments.table1_format`).
* :mod:`handkit.experiments.ablation`: ablations of the aligner's training, branched from
  Table I's runs (``python -m handkit experiment ablation``).
* :mod:`handkit.experiments.sweep`: one notebook over a parameter grid (``python -m handkit
  sweep``); :mod:`handkit.experiments.k_lambda`: one point of the K x lambda_align sweep of
  notebook 08 and the committed sweep's figures.

Notebooks are run by :mod:`handkit.course.run`, which these build on.
"""
