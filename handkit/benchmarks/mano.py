"""``python -m handkit bench mano``: ManoLayer forward time, and the ratio to manopth if installed.

Settings as in the target: 45 PCA components, betas given, ``torch.no_grad()``, CPU. Times are
medians over repeats; handkit and manopth are timed alternately in the same run so machine
noise hits both alike. The target is ratio (manopth / handkit) >= 1 at batch 256, one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from handkit.errors import command, positive_int
from handkit.mano.layer import ManoLayer
from handkit.mano.manopth_compat import make_manopth_layer, manopth_available

BATCH_SIZES = (1, 64, 256)


def time_call(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds (after two warm-up calls)."""
    fn()
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def bench_batch(layers: dict, batch: int, repeats: int, rounds: int = 3) -> dict[str, float]:
    """Median ms per forward for each layer, alternating layers over ``rounds``."""
    generator = torch.Generator().manual_seed(batch)
    pose = torch.randn(batch, 48, generator=generator) * 0.5
    betas = torch.randn(batch, 10, generator=generator)
    times = {name: [] for name in layers}
    with torch.no_grad():
        for _ in range(rounds):
            for name, layer in layers.items():
                times[name].append(time_call(lambda layer=layer: layer(pose, betas), repeats))
    return {name: statistics.median(values) for name, values in times.items()}


def run(threads_options: tuple[int, ...], repeats: int) -> list[dict]:
    """Benchmark rows: one per (threads, batch)."""
    ours = ManoLayer(use_pca=True, ncomps=45)
    layers = {"handkit": ours}
    if manopth_available():
        layers["manopth"] = make_manopth_layer(ours.model, use_pca=True, ncomps=45)
    rows = []
    for threads in threads_options:
        torch.set_num_threads(threads)
        for batch in BATCH_SIZES:
            row = {"threads": threads, "batch": batch}
            row.update(bench_batch(layers, batch, repeats))
            rows.append(row)
    return rows


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of the benchmark rows."""
    has_manopth = "manopth" in rows[0]
    header = f"{'threads':>7} {'batch':>5} {'handkit ms':>11}"
    if has_manopth:
        header += f" {'manopth ms':>11} {'speed-up':>9}"
    lines = [header]
    for row in rows:
        line = f"{row['threads']:>7} {row['batch']:>5} {row['handkit']:>11.3f}"
        if has_manopth:
            line += f" {row['manopth']:>11.3f} {row['manopth'] / row['handkit']:>8.2f}x"
        lines.append(line)
    return "\n".join(lines)


@command("bench mano")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handkit bench mano", description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=30,
                        help="timed calls per measurement")
    args = parser.parse_args(argv)
    all_threads = torch.get_num_threads()
    threads = (1,) if all_threads == 1 else (1, all_threads)
    print(f"ManoLayer forward, CPU, no_grad, 45 PCA components, betas given "
          f"(torch {torch.__version__}, up to {all_threads} threads)")
    if not manopth_available():
        print("manopth is not importable here: no ratio printed (handkit does not need it)")
    rows = run(threads, args.repeats)
    print(format_rows(rows))
    if "manopth" in rows[0]:
        target = next(r for r in rows if r["threads"] == 1 and r["batch"] == 256)
        ratio = target["manopth"] / target["handkit"]
        verdict = "met" if ratio >= 1.0 else "NOT met"
        print(f"target (batch 256, 1 thread, handkit no slower than manopth): "
              f"{ratio:.2f}x -> {verdict}")
    return 0
