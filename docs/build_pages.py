"""Generate the documentation site's pages from the README and the registry, and draw the loss plots.

The site repeats nothing by hand, so it cannot drift:

* the guide pages (compare, using the losses, porting from torch, scale) are
  sections of ``README.md``, cut at their ``##`` headings, with their links
  and figure paths rewritten for the site;
* there is one page per loss family (the ``losskit.functional`` module that
  defines the loss), with, for every registered loss of that family, its
  names, its plot, its shapes, an example whose printed output is computed
  while the page is generated, and the function's docstring (formula,
  options and paper) through autodoc. A loss registered tomorrow gets its
  section, and its family its page, without an edit here.

``conf.py`` calls :func:`write_pages` on every build. ``python docs/build_pages.py figures``
(``make docs-figures``) draws, with ``losskit plot``, the plot of every
registered loss that has none yet (``--all`` redraws them all); the PNGs are
committed under ``docs/figures/losses/``.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "generated"
LOSS_FIGURES = DOCS / "figures" / "losses"
REPO_URL = "https://github.com/losskit/losskit/blob/main/"

# site page -> the README sections (## headings) it holds, in order; a section absent from the README is skipped
GUIDE = {
    "compare": ("Guide: losskit compare", ["losskit compare"]),
    "using": ("Guide: using the losses", ["Using the losses", "The losses of the article", "Choosing a robust loss",
                                          "The article's training loop"]),
    "porting": ("Porting from torch", ["Porting from torch", "What losskit fixes in torch.nn"]),
    "scale": ("Scale", ["Scale", "Training on several processes or machines"]),
}
PLOTTABLE_TASKS = ("regression", "classification")  # what `losskit plot` draws

# an example call per task: (setup code, call arguments); the page prints what it returns
EXAMPLES = {
    "regression": ("input, target = torch.randn(8, 3), torch.randn(8, 3)", "input, target"),
    "classification": ("logits, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))", "logits, labels"),
    "multilabel": ("logits, labels = torch.randn(8, 5), torch.randint(0, 2, (8, 5)).float()", "logits, labels"),
}
SHAPES = {
    "regression": "input (N, \\*) of floats; target of the same shape (never broadcast); "
                  "`reduction=\"none\"` returns that shape, `\"per_sample\"` (N,).",
    "classification": "input (N, C) or (N, C, d1, ...), logits by default (`input_kind`); target class indices "
                      "(N,) or (N, d1, ...), or probabilities shaped like the input; `\"none\"` returns the "
                      "target's positions, `\"per_sample\"` (N,).",
    "multilabel": "input (N, C) or any shape, logits by default (`input_kind`); target of the same shape with "
                  "values in [0, 1]; `\"none\"` returns that shape, `\"per_sample\"` (N,).",
}


# ------------------------------------------------------------------ README sections


def readme_sections(text: str) -> dict[str, str]:
    """``## heading`` -> its text up to the next ``##`` heading (code blocks respected)."""
    sections: dict[str, str] = {}
    current, lines, fenced = None, [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(lines).strip("\n")
            current, lines = line[3:].strip(), [line]
        elif current is not None:
            lines.append(line)
    if current is not None:
        sections[current] = "\n".join(lines).strip("\n")
    return sections


def slug(heading: str) -> str:
    """The anchor GitHub and MyST (``myst_heading_anchors``) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    fenced, found = False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"#{1,6} (.*)", line)
        if m:
            found.add(slug(m.group(1)))
    return found


def rewrite_links(text: str, page: str, anchor_pages: dict[str, str]) -> str:
    """README links made to work on the site: figures, anchors on other pages, repository files."""

    def fix(m: re.Match[str]) -> str:
        bang, label, target = m.group(1), m.group(2), m.group(3)
        if target.startswith(("http://", "https://", "mailto:")):
            return m.group(0)
        if target.startswith("docs/"):
            return f"{bang}[{label}](../{target.removeprefix('docs/')})"
        if target.startswith("#"):
            home = anchor_pages.get(target[1:])
            if home is None:
                raise ValueError(f"README link {target!r} names no heading of the site")
            return f"[{label}]({target})" if home == page else f"[{label}]({home}.md{target})"
        return f"[{label}]({REPO_URL}{target})"

    return re.sub(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)", fix, text)


def guide_pages(readme: str) -> dict[str, str]:
    sections = readme_sections(readme)
    bodies = {page: [sections[s] for s in wanted if s in sections] for page, (_, wanted) in GUIDE.items()}
    anchor_pages = {a: page for page, texts in bodies.items() for t in texts for a in _anchors(t)}
    pages = {}
    for page, (title, _) in GUIDE.items():
        if not bodies[page]:
            continue
        # each README "## X" becomes "## X" under the page's "# title"
        text = "\n\n".join(bodies[page])
        pages[page] = f"# {title}\n\n{rewrite_links(text, page, anchor_pages)}\n"
    return pages


# ------------------------------------------------------------------ loss pages


def families() -> dict[str, list[str]]:
    """``losskit.functional`` module -> the registry names of the losses it defines."""
    import losskit

    out: dict[str, list[str]] = defaultdict(list)
    for name in losskit.available_losses():
        out[losskit.loss_info(name).function.__module__].append(name)
    return dict(sorted(out.items()))


def _family_title(module: str) -> tuple[str, str]:
    import importlib

    doc = (importlib.import_module(module).__doc__ or module).strip()
    first, _, rest = doc.partition("\n")
    return first.rstrip("."), rest.strip()


def run_example(name: str) -> str | None:
    """The example of a loss as code with its real printed output, or None if the standard inputs of its
    task do not fit it (its docstring then says what it takes)."""
    import torch

    import losskit

    info = losskit.loss_info(name)
    if info.task not in EXAMPLES:
        return None
    setup, args = EXAMPLES[info.task]
    code = f"import torch\nimport losskit\n\ntorch.manual_seed(0)\n{setup}\nloss = losskit.get_loss(\"{name}\")\n" \
           f"print(loss({args}))"
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"<example {name}>", "exec"), {"torch": torch})
    except (ValueError, TypeError, RuntimeError):
        return None
    return f"```python\n{code}\n```\n\n```text\n{buf.getvalue().strip()}\n```"


def figure_path(name: str) -> Path:
    return LOSS_FIGURES / f"{name}.png"


def _public_name(fn: object) -> str:
    """``losskit.functional.<name>`` where the function is exported there, else its defining module's path."""
    import losskit.functional as LF

    name = getattr(fn, "__name__", "")
    if getattr(LF, name, None) is fn:
        return f"losskit.functional.{name}"
    return f"{getattr(fn, '__module__', '')}.{name}"


def family_page(module: str, names: list[str]) -> str:
    import losskit

    title, intro = _family_title(module)
    parts = [f"# {title}", "", f"Module `{module}`.", ""]
    if intro:
        parts += ["```{eval-rst}", f".. automodule:: {module}", "   :no-index:", "```", ""]
    for name in names:
        info = losskit.loss_info(name)
        fn = _public_name(info.function)
        parts += [f"## `{name}`", "", info.summary, ""]
        names_line = ", ".join(f"`{a}`" for a in info.aliases)
        parts += [f"- **Function:** {{func}}`{fn}`; **module:** `losskit.nn.{info.module.__name__}`"]
        parts += [f"- **Registry:** `losskit.get_loss(\"{name}\")`, task `{info.task}`"
                  + (f"; also spelled {names_line}" if names_line else "")]
        if info.hyperparameters:
            hp = ", ".join(f"`{k}={v!r}`" for k, v in info.hyperparameters.items())
            parts += [f"- **Hyperparameters:** {hp}"]
        if info.task in SHAPES:
            parts += [f"- **Shapes:** {SHAPES[info.task]}"]
        parts += [""]
        if figure_path(name).is_file():
            parts += [f"![{name}: the loss and its derivative](../figures/losses/{name}.png)", ""]
        example = run_example(name)
        if example:
            parts += ["**Example**", "", example, ""]
        parts += ["**Formula, options and reference**", "", "```{eval-rst}",
                  f".. autofunction:: {fn}", "```", ""]
    return "\n".join(parts)


def index_page(fams: dict[str, list[str]]) -> str:
    lines = ["# Losses by family", "", "| family | losses |", "|---|---|"]
    for module, names in fams.items():
        title, _ = _family_title(module)
        page = module.rsplit(".", 1)[-1]
        lines.append(f"| [{title}](losses_{page}.md) | {', '.join(f'`{n}`' for n in names)} |")
    toc = "\n".join(f"losses_{m.rsplit('.', 1)[-1]}" for m in fams)
    return "\n".join(lines) + f"\n\n```{{toctree}}\n:hidden:\n\n{toc}\n```\n"


def write_pages(out: Path = OUT) -> list[Path]:
    """Write every generated page into ``out`` (replacing what was there); returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.md"):
        old.unlink()
    pages = guide_pages((ROOT / "README.md").read_text(encoding="utf-8"))
    fams = families()
    pages["losses"] = index_page(fams)
    for module, names in fams.items():
        pages[f"losses_{module.rsplit('.', 1)[-1]}"] = family_page(module, names)
    written = []
    for page, text in pages.items():
        path = out / f"{page}.md"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# ------------------------------------------------------------------ figures


def draw_figures(redraw: bool = False) -> list[str]:
    """Draw ``docs/figures/losses/<name>.png`` with ``losskit plot`` for every plottable loss lacking one."""
    import losskit
    from losskit.cli import main

    LOSS_FIGURES.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name in losskit.available_losses():
        if losskit.loss_info(name).task not in PLOTTABLE_TASKS or (figure_path(name).is_file() and not redraw):
            continue
        code = main(["plot", "--losses", name, "--out", str(figure_path(name))])
        if code != 0:
            raise SystemExit(f"losskit plot --losses {name} failed with exit code {code}")
        drawn.append(name)
    return drawn


if __name__ == "__main__":
    if sys.argv[1:2] == ["figures"]:
        print(f"drew {draw_figures(redraw='--all' in sys.argv) or 'nothing new'}")
    else:
        print("\n".join(str(p) for p in write_pages()))
