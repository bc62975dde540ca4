"""Every registered scorer and treatment on the HuggingFace text task (``examples/text_task.py``, ``pip install
remedy[hf]``) through the Python API: for a scorer, its time (seconds and epochs of the same model, measured in the
same run) and the swapped share of its top causes (as many as there are swapped labels); for a treatment of the
default scorer's top 10 %, its time, the held-out failures it fixed and correct predictions it broke, its net change
and its removal value (minus the same treatment with nothing removed); or the one line it stopped with.

    python benchmarks/text_task.py --threads 1 [--record] [--skip SCORER …] [--skip-treat TREATMENT …]

``--record`` trains θ̂ with every optimiser step kept, which the methods that replay the run need. Prints markdown
tables (benchmarks/README.md keeps the last ones).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

import remedy
from remedy.data.split import predict
from remedy.errors import RemedyError
from remedy.evaluate.accuracy import accuracy
from remedy.identify import DEFAULT_SCORER, SCORERS
from remedy.treat import TREATMENTS, Repair

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import text_task

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record", action="store_true", help="keep every optimiser step (replaying methods run)")
    parser.add_argument("--skip", nargs="*", default=[], help="scorers not run (named in the table)")
    parser.add_argument("--skip-treat", nargs="*", default=[], help="treatments not run (named in the table)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    task = text_task.build(seed=args.seed, record=args.record)
    epoch = task.record.epoch_seconds or 1.0
    posterior = remedy.Posterior(task.model, task.train, record=task.record)
    split = remedy.split_test(task.model, task.test, seed=args.seed)
    assert task.corrupted is not None
    k, base = int(task.corrupted.sum()), float(task.corrupted.float().mean())
    held = split.held_out.examples
    before = accuracy(task.model, held) or 0.0
    size = sum(p.numel() for p in task.model.parameters())
    print(
        f"{task.name}: {len(posterior.train)} training texts, {k} swapped ({base:.2f}), "
        f"{size:,} parameters, built in {time.perf_counter() - start:.0f} s, "
        f"one epoch {epoch:.2f} s; query failures {len(split.query.failures)}; held-out accuracy {100 * before:.1f} %\n"
    )
    print("| scorer | status | seconds | epochs | swapped share of top |\n|---|---|---|---|---|", flush=True)
    default = None
    for name in SCORERS.names():
        found = attempt(name, args.skip, 3, lambda name=name: remedy.identify(posterior, split, name))
        if found is not None:
            scores, seconds = found
            share = float(task.corrupted[scores.ranking()[:k]].float().mean())
            print(f"| {name} | ran | {seconds:.1f} | {seconds / epoch:.1f} | {share:.3f} |", flush=True)
            default = scores if name == DEFAULT_SCORER else default
    assert default is not None, f"the default scorer {DEFAULT_SCORER} did not run"
    causes = default.ranking()[: len(posterior.train) // 10]
    print(
        f"\nTreatments of the default scorer's ({DEFAULT_SCORER}) top 10 % ({len(causes)} texts, "
        f"{float(task.corrupted[causes].float().mean()):.2f} swapped), one treatment seed; on the held-out half "
        f"({len(held)} texts, accuracy before {100 * before:.1f} %): failures fixed, correct predictions broken, net "
        "change in points, and the removal value (net change minus the same treatment with nothing removed)\n"
    )
    print(
        "| treatment | status | seconds | fixed | broken | net change | removal value |\n|---|---|---|---|---|---|---|",
        flush=True,
    )
    right = predict(task.model, held.x) == held.y
    for name in TREATMENTS.names():

        def both(name: str = name) -> tuple[Repair, Repair]:
            guard = split.query.guard
            return remedy.repair(posterior, causes, name, guard=guard), remedy.repair(
                posterior, causes[:0], name, guard=guard
            )

        found = attempt(name, args.skip_treat, 5, both)
        if found is not None:
            (fixed, nothing), seconds = found
            changes = [(predict(r.model, held.x) == held.y).long() - right.long() for r in (fixed, nothing)]
            net = [100 * float(c.double().mean()) for c in changes]
            repaired, broken = int((changes[0] > 0).sum()), int((changes[0] < 0).sum())
            print(
                f"| {name} | ran | {seconds:.1f} | {repaired} | {broken} | {net[0]:+.2f} | {net[0] - net[1]:+.2f} |",
                flush=True,
            )


def attempt(name: str, skip: list[str], blanks: int, run: Callable[[], T]) -> tuple[T, float] | None:
    """``run()`` and its seconds, or ``None`` with the method's row printed: skipped, or the line it refused with."""
    rest = " |" * blanks
    if name in skip:
        print(f"| {name} | not run (--skip) |{rest}", flush=True)
        return None
    start = time.perf_counter()
    try:
        return run(), time.perf_counter() - start
    except RemedyError as err:
        print(f"| {name} | refused: {err} |{rest}", flush=True)
        return None


if __name__ == "__main__":
    main()
