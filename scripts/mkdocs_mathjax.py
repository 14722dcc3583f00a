"""MkDocs hooks: MathJax 3 served from the site itself (formulas render without network), and
Sphinx roles in the docstrings shown as plain code in the API pages.

The files come from the ``django-static-mathjax`` wheel (MathJax 3.2.2, Apache-2.0; a plain copy of
the npm ``mathjax`` package, no Django needed at import or build time), pinned in constraints.txt.
Only the part the pages use is published: the combined ``tex-chtml.js`` component, the TeX
extensions it may autoload, and the CHTML woff-v2 fonts (about 3 MB of the 35 MB wheel) under
``javascripts/mathjax/``; ``mkdocs.yml`` loads ``javascripts/mathjax/tex-chtml.js``.

fe2's docstrings cross-reference with Sphinx roles (:class:`X`, :func:`f`, ``~`` for the short
name), which mkdocstrings renders literally; ``on_page_content`` drops the role prefix and the ``~``
so that ``X`` reads as code.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

DEST = "javascripts/mathjax"
PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2")
ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|py:\w+):(<code[^>]*>)~?")


def _es5_dir() -> Path:
    import mathjax  # the django-static-mathjax wheel's package (static files only)

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    es5 = _es5_dir()
    for part in PARTS:
        src = es5 / part
        for path in [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(es5).as_posix()
            files.append(File.generated(config, f"{DEST}/{rel}", abs_src_path=str(path)))
    return files


def on_page_content(html: str, **_kwargs) -> str:
    return ROLE.sub(r"\1", html)
