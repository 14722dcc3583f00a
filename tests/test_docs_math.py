"""Math in the docs renders: no page keeps a raw ``$$`` (or an inline ``$\\...$``) outside math blocks.

Every page of ``mkdocs.yml``'s nav is converted with the markdown extensions mkdocs.yml names (the
same Markdown that ``make docs`` runs); what arithmatex marks as math, and code, are removed; the
text left must hold no TeX delimiter. Before arithmatex was enabled, docs/darcy.md and
docs/phasefield.md showed their ``$$`` formulas as raw LaTeX (mkdocs ``--strict`` does not notice).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

markdown = pytest.importorskip("markdown")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
MATH = re.compile(r'<(div|span) class="arithmatex">.*?</\1>', re.S)
CODE = re.compile(r"<pre.*?</pre>|<code.*?</code>", re.S)
INLINE_TEX = re.compile(r"\$[^$\s][^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def _pages(nav) -> list[str]:
    out = []
    for item in nav:
        for v in item.values() if isinstance(item, dict) else [item]:
            out += _pages(v) if isinstance(v, list) else [v]
    return out


def _converter() -> markdown.Markdown:
    names, configs = [], {}
    for ext in _config()["markdown_extensions"]:
        name, conf = next(iter(ext.items())) if isinstance(ext, dict) else (ext, {})
        names.append(name)
        configs[name] = conf or {}
    return markdown.Markdown(extensions=names, extension_configs=configs)


def test_mathjax_is_loaded_for_arithmatex():
    cfg = _config()
    assert any("arithmatex" in (e if isinstance(e, str) else next(iter(e))) for e in cfg["markdown_extensions"])
    scripts = cfg["extra_javascript"]
    assert any("mathjax" in s.lower() and s.endswith(".js") for s in scripts)
    assert (ROOT / "docs" / "javascripts" / "mathjax.js").is_file()


@pytest.mark.parametrize("page", _pages(_config()["nav"]))
def test_no_raw_tex_left_on_the_page(page):
    text = (ROOT / "docs" / page).read_text()
    html = _converter().convert(text)
    n_math = len(MATH.findall(html))
    rest = CODE.sub("", MATH.sub("", html))
    assert "$$" not in rest, (page, rest[max(0, rest.find("$$") - 200): rest.find("$$") + 200])
    found = INLINE_TEX.search(rest)
    assert found is None, (page, found.group(0) if found else "")
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))  # without code
    if "$$" in prose:  # a page with display formulas has them marked as math
        assert n_math > 0, page
