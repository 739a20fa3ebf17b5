"""The README's claims tables are generated from claims.csv, between markers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from losskit.experiments.readme import main
from losskit.experiments.report import CLAIM_COLUMNS


def test_the_block_between_the_markers_is_rebuilt_from_claims_csv(tmp_path: Path) -> None:
    run = tmp_path / "demo-toy"
    run.mkdir()
    rows = [dict.fromkeys(CLAIM_COLUMNS, "") | {"claim": "A beats B", "article": "1", "estimate": "-2.5", "lo": "-3",
                                                 "hi": "-2", "margin": "1", "unit": "epochs", "n_seeds": "10",
                                                 "n_excluded": "1", "verdict": "holds", "reason": "because"}]
    with (run / "claims.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, CLAIM_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- claims:toy -->\nstale\n<!-- /claims:toy -->\nafter\n")
    assert main([str(readme), str(run)]) == 0
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert "| A beats B | **holds** | ±1 epochs | -2.5 [-3, -2] epochs | 10 (1) | because |" in text
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="claims:toy"):
        main([str(readme), str(run)])
