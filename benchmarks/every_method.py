"""Every registered scorer and treatment through ``remedy demo --quick`` by name, as a new user would run it: wall time
and whether it finished, refused with one line (and which), or ran past the time limit.

    python benchmarks/every_method.py --threads 1 [--limit 600] [--dataset digits --model mlp]

Prints a markdown table (benchmarks/README.md keeps the last one).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from remedy.identify import SCORERS
from remedy.treat import TREATMENTS


def run(flag: str, name: str, args: argparse.Namespace) -> tuple[str, float, str]:
    """``remedy demo --quick`` with ``flag name``: (status, seconds, the last line it printed)."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "remedy", "demo", "--quick", "--dataset", args.dataset, "--model", args.model,
            flag, name, "--out", out, "--threads", str(args.threads),
        ]  # fmt: skip
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.limit)
        except subprocess.TimeoutExpired:
            return "timed out", time.perf_counter() - start, f"still running after {args.limit} s"
        seconds = time.perf_counter() - start
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if line.startswith("remedy: error")), lines[-1] if lines else "")
        if done.returncode == 0 and (Path(out) / "report.html").is_file():
            return "ran", seconds, next((line for line in lines if line.startswith("Removing")), last)
        return "refused" if done.returncode == 2 else f"failed ({done.returncode})", seconds, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=600, help="seconds before a run counts as not finishing")
    parser.add_argument("--only", nargs="*", help="these methods only")
    args = parser.parse_args()
    methods = [("--identify", n) for n in SCORERS.names()] + [("--treat", n) for n in TREATMENTS.names()]
    print("| method | flag | status | wall s | what it said |\n|---|---|---|---|---|", flush=True)
    for flag, name in methods:
        if args.only and name not in args.only:
            continue
        status, seconds, said = run(flag, name, args)
        print(f"| {name} | {flag} | {status} | {seconds:.0f} | {said[:160]} |", flush=True)


if __name__ == "__main__":
    main()
