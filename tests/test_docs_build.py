"""The docs build, strictly, and the built site shows what the pages promise.

``mkdocs build --strict`` (the command of ``make docs``) runs into a temporary folder; it fails on any
warning: a broken link or anchor, a page missing from the nav, a docstring that mkdocstrings cannot
parse (the API reference, docs/api/). The built HTML is then checked for what ``--strict`` does not
see: no raw ``$$`` left outside math (tests/test_docs_math.py checks the Markdown, this the site,
demo pages included), MathJax served from the site itself (formulas render without network), every
demo rendered as a page, every API page holding the objects it documents, and a picture on every
physics page. Built in 4-12 s on one core (measured; the demo pages are cached in .cache/);
skipped when the ``docs`` extra is not installed (``make test`` installs it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("mkdocs_jupyter")
pytest.importorskip("mathjax")  # django-static-mathjax: the MathJax files the site serves

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted(p.stem for p in (ROOT / "demos").glob("*.py"))
PHYSICS_PAGES = ["theory", "bounds", "phasefield", "reactions", "identifiability", "darcy", "cauchy_born", "uq"]
API_PAGES = {
    "results": ["open_results", "Results", "ConfigError"],
    "contract": ["MicroModel", "BatchedState", "StateStore"],
    "materials": ["J2Plasticity", "NeoHookean", "CauchyBornLaw", "IsotropicElastic"],
    "micro": ["RVEProblem", "NonlinearRVEMaterial", "permeability", "build_reduced_rve"],
    "reactions": ["Network", "integrate", "gillespie"],
    "studies": ["run_uq", "run_identify", "balanced_truncation"],
}
MATH_OR_CODE = re.compile(r'<(div|span) class="arithmatex">.*?</\1>|<pre.*?</pre>|<code.*?</code>|<script.*?</script>',
                          re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


@pytest.mark.serial
def test_no_raw_display_math_in_the_built_site(site):
    pages = sorted(site.rglob("index.html"))
    assert len(pages) > 20
    for page in pages:
        text = MATH_OR_CODE.sub("", page.read_text())
        assert "$$" not in text, (page.relative_to(site), text[max(0, text.find("$$") - 200): text.find("$$") + 200])


@pytest.mark.serial
def test_mathjax_is_served_by_the_site(site):
    html = (site / "darcy" / "index.html").read_text()
    assert 'class="arithmatex"' in html
    assert "javascripts/mathjax/tex-chtml.js" in html and "cdn.jsdelivr.net/npm/mathjax@3" not in html
    assert (site / "javascripts" / "mathjax" / "tex-chtml.js").stat().st_size > 500_000
    fonts = list((site / "javascripts" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) >= 20  # MathJax's TeX fonts: Main, Math, Size1-4, AMS, ...


@pytest.mark.serial
@pytest.mark.parametrize("demo", DEMOS)
def test_every_demo_is_a_page(site, demo):
    html = (site / "demos" / demo / "index.html").read_text()
    source = (ROOT / "demos" / f"{demo}.py").read_text()
    title = re.search(r"^# # (.+)$", source, re.M).group(1)
    assert "jp-MarkdownCell" in html and "jp-CodeCell" in html, demo  # rendered as a notebook
    first_word = title.split()[0]
    assert first_word in html, (demo, title)
    for image in re.findall(r"\]\(\.\./\.\./(images/[\w.]+\.png)\)", source):
        assert (site / image).is_file(), (demo, image)


@pytest.mark.serial
@pytest.mark.parametrize("page, names", sorted(API_PAGES.items()))
def test_api_pages_document_the_public_objects(site, page, names):
    html = (site / "api" / page / "index.html").read_text()
    for name in names:
        assert re.search(rf'id="[\w.]*\b{name}"', html), (page, name)  # a heading mkdocstrings made for it
    assert ":class:" not in html  # Sphinx roles shown as code (scripts/mkdocs_mathjax.py)


@pytest.mark.serial
@pytest.mark.parametrize("page", [*PHYSICS_PAGES, "gallery"])
def test_physics_pages_show_a_picture(site, page):
    html = (site / page / "index.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
    assert images, page
    for src in images:
        assert (site / page / src).resolve().is_file(), (page, src)
