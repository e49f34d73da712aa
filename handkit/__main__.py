"""Command line: ``python -m handkit <command> ...``.

Commands:
  bench <name>   print benchmark figures (names: mano, render, model, data)
  course badges  write the notebooks' Binder and Colab links and Colab install cell
  course build   student and instructor editions of the notebooks (python -m handkit course -h)
  course grade   run submitted notebooks with the hidden tests, print and save the points
  course list    the graded exercises, with points and estimated minutes
  data synth     generate a synthetic sparsely-labelled video set
  evaluate       Table I rows of a trained run folder (python -m handkit evaluate -h)
  experiment table1   the synthetic Table I (train, evaluate, report)
  experiment ablation   ablations of the aligner's training, branched from Table I's runs
  experiment motion-sweep   who wins per label spacing K and motion level
  experiment sample-checkpoint   the trained weights shipped in data_samples/checkpoint/
  experiment sweep-figures   the README's figures of the committed K x lambda_align sweep
  init DIR       copy the course notebooks into DIR (an installed kit's start; handkit.course.init)
  lab            JupyterLab on working copies of the notebooks (make lab)
  run            execute every notebook headless into runs/<timestamp>/ and print key numbers
                 (handkit.course.run_cli)
  sweep          run one notebook over a parameter grid (python -m handkit sweep -h)
  train          the three training stages into a run folder (python -m handkit train -h)

A refused input (a wrong flag value, config file or path) ends any command with one line,
``handkit <command>: <message>``, on stderr and exit status 1; so does a run that fails. An
unknown command or argparse's usage errors exit with 2 (:mod:`handkit.errors`).
"""

from __future__ import annotations

import importlib
import sys

from handkit.errors import run_command

#: command words -> module (or "module:function"; default function ``main(argv)``) that
#: handles the rest of the arguments.
COMMANDS = {
    ("bench", "data"): "handkit.benchmarks.data",
    ("bench", "mano"): "handkit.benchmarks.mano",
    ("bench", "model"): "handkit.benchmarks.model",
    ("bench", "render"): "handkit.benchmarks.render",
    ("course", "badges"): "handkit.course.launch",
    ("course", "build"): "handkit.course.cli:build_main",
    ("course", "grade"): "handkit.course.cli:grade_main",
    ("course", "list"): "handkit.course.cli:list_main",
    ("data", "synth"): "handkit.data.synthetic",
    ("evaluate",): "handkit.evaluate_cli",
    ("experiment", "table1"): "handkit.experiments.table1",
    ("experiment", "ablation"): "handkit.experiments.ablation",
    ("experiment", "motion-sweep"): "handkit.experiments.motion_sweep",
    ("experiment", "sample-checkpoint"): "handkit.experiments.table1:sample_checkpoint_main",
    ("experiment", "sweep-figures"): "handkit.experiments.k_lambda:figures_main",
    ("init",): "handkit.course.init",
    ("lab",): "handkit.course.lab",
    ("run",): "handkit.course.run_cli",
    ("sweep",): "handkit.experiments.sweep",
    ("train",): "handkit.train.cli",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for words, module_name in COMMANDS.items():
        if tuple(argv[: len(words)]) == words:
            module_name, _, function = module_name.partition(":")
            module = importlib.import_module(module_name)
            main_function = getattr(module, function or "main")
            return run_command(" ".join(words), main_function, argv[len(words):])
    usage = "\n".join("  python -m handkit " + " ".join(w) for w in COMMANDS)
    print(f"unknown command {' '.join(argv)!r}; expected one of:\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
