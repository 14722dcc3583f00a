"""A fixed sample of the SBML Test Suite semantic cases through bench/sbml_suite.py.

Each case is imported, integrated (scipy BDF at rtol 1e-10) and compared with the suite's own
results at its output times by the suite's own rule (absolute + relative tolerance per
variable, from NNNNN-settings.txt). The sample covers the constructs fixed here — Level 2
files (libsbml's layout/render plugins), floor/ceiling (00196, 00197), booleans in kinetic
laws (01288), a 0-D compartment with a size (01809), rate rules (00031, 00081, 00122, 00161),
the time symbol (00851, 00857, 00863), events (00026 ...), models without reactions
(00951 ...), ``delay`` (00937 ...), stoichiometries, conversion factors, variable
volumes and transport — and refusals that must stay one-line
refusals, never a wrong answer. Skips when the suite is absent (FE2_SBML_TEST_SUITE or
/work/shared/sbml-test-suite); it is never a dependency.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.serial

_RUNNER = Path(__file__).resolve().parents[3] / "bench" / "sbml_suite.py"
_spec = importlib.util.spec_from_file_location("fe2_bench_sbml_suite", _RUNNER)
assert _spec is not None and _spec.loader is not None
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

ROOT = suite.suite_dir()

PASS_HIGHEST = ["00060", "00115", "00127", "00196", "00197", "00237", "00485", "00530", "00589",
                "00602", "00795", "00998", "01288", "01431", "01640", "01784", "01809",
                "00031", "00081", "00122", "00161",  # rate rules
                "00851", "00857", "00863",  # the time symbol
                "00026", "00071", "00348", "00421", "00978",  # events: state / time triggers,
                "01594", "01660", "01779",  # cascades, short pulses, species + compartment
                "00951", "00960", "01323", "01820",  # no reaction at all; avogadro; id "Time"
                "01235", "01237", "01238",  # rule / assignment / trigger without math
                "00048", "00238",  # 0-D compartments without a size
                "00068", "00969", "00970", "00974", "01422",  # stoichiometry: math, initial
                # assignment, rule, id as a value, non-integer
                "00975", "01642",  # conversion factors
                "00051", "00104", "00054", "00110",  # rate rule for a compartment; transport
                "01256", "01293", "01455", "01525",  # rateOf (01455: of an amount)
                "00039", "00182", "00531", "01789", "00539",  # algebraic rules (00539: a size)
                "01224", "01274", "01488",  # reaction id as a value, implies, arcsec
                "00937", "00938", "00941", "01414",  # delay: in a rule, a time-valued
                "01400", "01518", "01523"]  # history before 0, a law; of rateOf, in events
PASS_L2V4 = ["00001", "00020", "00090", "00196", "00206", "00482", "00507", "00803", "01795"]
REFUSED = {  # case -> words of its one-line refusal
    "00952": "in an order SBML leaves random",  # random event order (RandomEventExecution)
    "00966": "trigger with '==' or '!='",
    "01466": "in an order SBML leaves random",  # 200 events at t = 0
    "00981": "delay whose delay time",  # time-dependent delay time
    "00985": "delay nested inside delay",
    "01124": "required SBML package 'comp'",
    "01248": "rateOf in the math of initial assignment",
    "00870": "fast reaction",
}


@pytest.mark.skipif(ROOT is None, reason="SBML Test Suite not found (set FE2_SBML_TEST_SUITE)")
def test_suite_sample():
    assert ROOT is not None
    got = {}
    for level, cases in ((None, PASS_HIGHEST), ("l2v4", PASS_L2V4)):
        for case in cases:
            got[(case, level)] = suite.run_case(ROOT / case, level)
    bad = {k: v for k, v in got.items() if v[0] != "pass"}
    assert not bad, bad
    for case, words in REFUSED.items():
        outcome, detail = suite.run_case(ROOT / case)
        assert outcome == "refused" and words in detail and "\n" not in detail, (case, detail)
