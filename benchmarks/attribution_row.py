"""One row of the attribution experiment's table, measured with the current code while the saved rows of the other
scorers are kept (the full ``remedy experiment attribution`` re-measures nothing it has; this re-measures one row).

    python benchmarks/attribution_row.py "trak[models=10]" --work runs/experiments/attribution/work
    python benchmarks/attribution_row.py magic --quick --work runs/experiments/attribution/work
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from remedy.experiments import attribution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", help="a scorer's name or a variant such as 'trak[models=10]'")
    parser.add_argument("--model", choices=("logreg", "mlp"), default="mlp")
    parser.add_argument("--quick", action="store_true", help="1,000 training and 100 test images, 20 halves")
    parser.add_argument("--work", type=Path, required=True, help="the attribution experiment's work folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = attribution.table_rows()
    if args.row not in rows:
        parser.error(f"row: one of {', '.join(rows)}, got {args.row!r}")
    attribution.table_rows = lambda: {args.row: rows[args.row]}  # the study measures only the rows it is given
    result = attribution.study(args.model, args.quick, 0, args.work)
    print(args.row, result["scorers"][args.row])


if __name__ == "__main__":
    main()
