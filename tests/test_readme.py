"""The README stays true: every public name and registry name it should document, it does."""

from __future__ import annotations

from pathlib import Path

import pytest

import losskit
import losskit.distributed
import losskit.functional as LF
import losskit.nn as lnn
import losskit.train

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

PUBLIC = [
    *(f"`{n}`" for n in LF.__all__),
    *(f"`{n}`" for n in lnn.__all__),
    *(f"`{n}" for n in losskit.train.__all__),
    *(f"`{n}" for n in losskit.distributed.__all__),
]


@pytest.mark.parametrize("token", PUBLIC)
def test_every_public_name_is_in_the_readme(token: str) -> None:
    assert token in README, f"README.md does not mention {token}; add it to the API section"


@pytest.mark.parametrize("name", losskit.available_losses())
def test_every_registered_loss_and_alias_is_in_the_readme(name: str) -> None:
    info = losskit.loss_info(name)
    for n in (name, *info.aliases):
        assert f"`{n}`" in README, f"README.md does not list the registry name `{n}`"


def test_quick_start_has_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick
