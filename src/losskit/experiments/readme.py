"""Regenerate the README's claims tables from the demo's ``claims.csv`` files (``make figures`` runs it).

Each table sits between ``<!-- claims:NAME -->`` and ``<!-- /claims:NAME -->``
and is rebuilt from ``runs/demo-NAME/claims.csv``::

    python -m losskit.experiments.readme README.md runs/demo-diabetes runs/demo-digits
"""

from __future__ import annotations

import csv
import math
import re
import sys
from pathlib import Path

__all__ = ["claims_table", "main", "replace_block"]


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def claims_table(rows: list[dict[str, str]]) -> list[str]:
    """A compact markdown table of claims.csv rows: claim, verdict, margin, estimate [interval], seeds, reason."""
    lines = ["| claim | verdict | margin | estimate [95% interval] | seeds (excluded) | reason |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        est, lo, hi, margin = (_num(r[k]) for k in ("estimate", "lo", "hi", "margin"))
        unit = f" {r['unit']}" if r["unit"] else ""
        shown = (f"{est:.3g} [{lo:.3g}, {hi:.3g}]{unit}" if math.isfinite(lo) else
                 (f"{est:.3g}{unit}" if math.isfinite(est) else ""))
        margin_text = f"±{margin:.3g}{unit}" if math.isfinite(margin) else ""
        seeds = f"{r['n_seeds']} ({r['n_excluded']})" if r["n_seeds"] not in ("", "0") else ""
        tag = "" if r["article"] == "1" else " *(not in the article)*"
        reason = r["reason"].replace("|", "/")
        lines.append(f"| {r['claim']}{tag} | **{r['verdict']}** | {margin_text} | {shown} | {seeds} | {reason} |")
    return lines


def replace_block(text: str, name: str, lines: list[str]) -> str:
    """``text`` with the block between the ``claims:NAME`` markers replaced by ``lines``."""
    pattern = re.compile(rf"(<!-- claims:{re.escape(name)} -->\n).*?(<!-- /claims:{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- claims:{name} --> ... <!-- /claims:{name} --> block in the README")
    return pattern.sub(lambda m: m.group(1) + "\n".join(lines) + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    readme = Path(args[0])
    text = readme.read_text(encoding="utf-8")
    for run in map(Path, args[1:]):
        with (run / "claims.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        text = replace_block(text, run.name.removeprefix("demo-"), claims_table(rows))
    readme.write_text(text, encoding="utf-8")
    print(f"updated {readme} from {', '.join(args[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
