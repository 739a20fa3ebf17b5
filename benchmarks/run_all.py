"""Run every benchmark under benchmarks/ (files named bench_*.py), one after another.

Each benchmark script runs its variants in separate processes itself and
prints ratios measured side by side in the same run.

    python benchmarks/run_all.py [substring ...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.name for a in argv)]
    if not scripts:
        print("no benchmark matched", file=sys.stderr)
        return 2
    status = 0
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        status |= subprocess.call([sys.executable, str(script)])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
