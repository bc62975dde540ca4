"""Passes over the training set in fixed chunks: sharded across the processes of ``torch.distributed`` (each rank
computes every ``world``-th chunk, then all ranks gather every result) and, given a folder, saved chunk by chunk,
so that a run that is killed resumes with the chunks it finished.

The chunks are the same however many processes run, and sums are taken in a fixed order
(:func:`sum_over_chunks`), so one process and several give the same numbers to the last bit (with the same
number of threads per process). ``torchrun --nproc-per-node N -m remedy diagnose …`` starts the processes; on several
machines the same launcher with a rendezvous endpoint does (``torchrun --nnodes M --rdzv-endpoint HOST:PORT``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm.auto import tqdm

from remedy.errors import RemedyError
from remedy.examples import Data
from remedy.io import atomic_write

Result = Tensor | tuple[Tensor, ...]

CHUNK_ROWS = 2048
"""Examples per chunk of a summed pass: the unit of work that is sharded, saved and resumed (within a chunk,
per-example work is batched to the memory budget)."""


def world() -> tuple[int, int]:
    """This process's rank and the number of processes (0 and 1 without ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def agree(fingerprints: dict[str, str]) -> None:
    """Every process's ``fingerprints`` (what it holds: model, training set, test set, …) gathered once; unless they
    are all equal, every process stops with one line naming what differs."""
    size = world()[1]
    if size == 1:
        return
    gathered: list[dict[str, str] | None] = [None] * size
    dist.all_gather_object(gathered, fingerprints)
    for other, theirs in enumerate(gathered):
        differ = sorted(key for key in fingerprints if (theirs or {}).get(key) != gathered[0].get(key))  # type: ignore[union-attr]
        if differ:
            raise RemedyError(
                f"processes: expected every process to hold the same model, training set and test set, but process "
                f"{other}'s {' and '.join(differ)} differ from process 0's (build() must return the same model in "
                "every process: train it deterministically or load it, e.g. with --weights)"
            )


def on_cpu(value: Result) -> Result:
    """``value`` (a tensor or a tuple of tensors) detached and on the CPU."""
    return tuple(t.detach().cpu() for t in value) if isinstance(value, tuple) else value.detach().cpu()


def _save(path: Path, value: Result) -> None:
    parts = value if isinstance(value, tuple) else (value,)
    tensors = {str(i): t.contiguous() for i, t in enumerate(parts)}  # on the CPU already (on_cpu)
    tensors["tuple"] = torch.tensor(int(isinstance(value, tuple)))
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def _load(path: Path) -> Result:
    tensors = load_file(str(path))
    parts = tuple(tensors[str(i)] for i in range(len(tensors) - 1))
    return parts if int(tensors["tuple"]) else parts[0]


def _chunk(data: Data, rows: int, i: int, compute: Callable[[Data], Result], store: Path | None) -> Result:
    """Chunk ``i``'s result on the CPU: read from ``store`` if saved there, else computed (and saved atomically)."""
    path = store / f"{i:06d}.safetensors" if store is not None else None
    if path is not None and path.is_file():
        return _load(path)
    value = on_cpu(compute(data.subset(torch.arange(i * rows, min((i + 1) * rows, len(data))))))
    if path is not None:
        _save(path, value)
    return value


def local_chunks(
    data: Data, rows: int, compute: Callable[[Data], Result], desc: str = "pass", store: Path | None = None
) -> dict[int, Result]:
    """``compute(chunk)`` for this process's share of the consecutive chunks of ``rows`` examples of ``data`` (chunk
    ``i`` belongs to rank ``i mod world``), by chunk index, on the CPU.

    With ``store``, a finished chunk is written there at once (atomically) and a chunk found there is read, not
    computed again: the caller must key ``store`` by everything the results depend on (model, data, settings)."""
    rank, size = world()
    mine = range(rank, -(-len(data) // max(1, rows)), size)
    results: dict[int, Result] = {}
    for i in tqdm(mine, desc=desc, disable=None if rank == 0 and len(mine) > 1 else True, leave=False):
        results[i] = _chunk(data, rows, i, compute, store)
    return results


def gather_chunks(results: dict[int, Result]) -> list[Result]:
    """Every process's chunk results (from :func:`local_chunks`), in chunk order, in every process."""
    size = world()[1]
    if size > 1:
        gathered: list[dict[int, Result] | None] = [None] * size
        dist.all_gather_object(gathered, results)
        results = {i: value for part in gathered for i, value in (part or {}).items()}
    return [results[i] for i in range(len(results))]


def over_chunks(
    data: Data, rows: int, compute: Callable[[Data], Result], desc: str = "pass", store: Path | None = None
) -> list[Result]:
    """``compute(chunk)`` for the consecutive chunks of ``rows`` examples of ``data``, in chunk order, on the CPU:
    each process computes its share (:func:`local_chunks`, resumable with ``store``) and receives all results."""
    return gather_chunks(local_chunks(data, rows, compute, desc, store))


def ordered_sum(values: Sequence[Result]) -> Result:
    """The sum of per-chunk results (tensors, or tuples summed element by element), in order."""
    if isinstance(values[0], tuple):
        return tuple(functools.reduce(operator.add, parts) for parts in zip(*values, strict=True))
    return functools.reduce(operator.add, values)


def sum_over_chunks(
    data: Data,
    rows: int,
    compute: Callable[[Data], Result],
    desc: str = "pass",
    store: Path | None = None,
) -> Result:
    """``Σ compute(chunk)`` over the consecutive chunks of ``rows`` examples, summed in chunk order, in bounded memory.

    With ``W`` processes the chunks are taken in rounds of ``W``: in round ``k`` rank ``r`` computes chunk
    ``kW + r``, every rank receives the round's results and adds them to its running sum in chunk order. So
    the work is split evenly, no process holds more than ``W`` chunk results, and the sum is the same to the last
    bit whatever ``W``: ``((c₀ + c₁) + c₂) + …``. With ``store``, finished chunks are saved and reused as in
    :func:`over_chunks`."""
    rank, size = world()
    n_chunks = -(-len(data) // max(1, rows))
    total: Result | None = None
    bar = tqdm(total=n_chunks, desc=desc, disable=None if rank == 0 and n_chunks > 1 else True, leave=False)
    for first in range(0, n_chunks, size):
        i = first + rank
        value = _chunk(data, rows, i, compute, store) if i < n_chunks else None
        round_values: list[Result | None] = [value]
        if size > 1:
            round_values = [None] * size
            dist.all_gather_object(round_values, value)
        for part in round_values:
            if part is not None:
                total = part if total is None else ordered_sum([total, part])
        bar.update(min(size, n_chunks - first))
    bar.close()
    assert total is not None
    return total
