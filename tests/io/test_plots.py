"""Plots that tell the truth: units on the axes, labelled colour bars centred on zero, round-off
not drawn as structure, load–displacement in displacement and force from the origin."""

from __future__ import annotations

import numpy as np
import pytest

from fe2.io.plots import ROUNDOFF, field_figure_2d, is_roundoff
from fe2.macro.driver import load_displacement_figure

plt = pytest.importorskip("matplotlib.pyplot")


def _square(n=6):
    x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    pts = np.column_stack([x.ravel(), y.ravel()])
    cells = []
    for j in range(n - 1):
        for i in range(n - 1):
            a = j * n + i
            cells += [[a, a + 1, a + n + 1], [a, a + n + 1, a + n]]
    return pts, np.array(cells)


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_roundoff_field_is_drawn_uniform_and_says_so():
    """A laminate's fluctuation under a load it carries uniformly is ±2e-15: one colour and the words
    'uniform ... round-off', not a full-scale diverging map of the noise."""
    pts, cells = _square()
    rng = np.random.default_rng(0)
    noise = 2e-15 * rng.standard_normal(len(pts))
    assert is_roundoff(noise, scale=1.0) and not is_roundoff(noise, scale=1e-5)
    fig = field_figure_2d(pts, cells, noise, "laminate", label="w1 [length × applied E11]", scale=1.0)
    try:
        assert "uniform" in _texts(fig) and "round-off" in _texts(fig)
        mappable = fig.axes[0].collections[0]
        assert np.all(mappable.get_array() == 0.0)  # nothing of the noise is drawn
        assert "zero to round-off" in fig.axes[1].get_ylabel()
    finally:
        plt.close(fig)


def test_field_colourbar_is_labelled_and_centred_and_axes_have_units():
    pts, cells = _square()
    values = 0.3 + pts[:, 0]  # all positive: a diverging map must still centre on zero
    fig = field_figure_2d(pts, cells, values, "field", label="w [K]", length_unit="mm")
    try:
        ax, bar = fig.axes
        assert ax.get_xlabel() == "x1 [mm]" and ax.get_ylabel() == "x2 [mm]"
        assert bar.get_ylabel() == "w [K]"
        lo, hi = ax.collections[0].get_clim()
        assert lo == pytest.approx(-hi) and hi == pytest.approx(1.3)
        assert "uniform" not in _texts(fig)
    finally:
        plt.close(fig)
    assert ROUNDOFF <= 1e-12  # a tolerance no real field falls under


def test_load_displacement_is_force_against_displacement_from_the_origin():
    header = ["step", "load_factor", "displacement [length]", "reaction_force [force per unit thickness]"]
    rows = [[1, 0.5, 0.01, 4.2], [2, 1.0, 0.02, 5.9]]
    fig = load_displacement_figure(rows, header, component=0)
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "displacement u1 of the monitored boundary [length]"
        assert ax.get_ylabel() == "reaction force [force per unit thickness]"
        x, y = ax.lines[0].get_data()
        np.testing.assert_array_equal(x, [0.0, 0.01, 0.02])  # the origin, then each step's displacement
        np.testing.assert_array_equal(y, [0.0, 4.2, 5.9])
        assert ax.get_xlim()[0] == 0.0 and ax.get_ylim()[0] <= 0.0  # no truncated axis
        assert any("load factor" in a.get_xlabel() for a in ax.child_axes)  # secondary axis on top
    finally:
        plt.close(fig)
