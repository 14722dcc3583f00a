"""``fe2 reactions`` on an SBML file with an event (well mixed, stop-and-restart BDF).

Model: ``A -> `` at rate ``k A`` (k = 1, A(0) = 1, compartment 1) and the event
``time >= 1: A := 1``; exact ``A = exp(-t)`` for ``t < 1`` and ``exp(-(t - 1))`` after.
Tolerance 1e-6 absolute: BDF at rtol 1e-9 / atol 1e-12 integrates each exponential piece to
~1e-8 and the event time is bisected to adjacent floats; an event missed or run one output
step late (0.25) is off by > 0.1. Other modes and methods are refused in one line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import libsbml
import numpy as np
import pytest
from mpi4py import MPI

from fe2.cli import main
from fe2.config.reactions import load_reactions
from fe2.errors import ConfigError


def _sbml() -> str:
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("m")
    c = m.createCompartment()
    c.setId("C"), c.setSize(1.0), c.setConstant(True), c.setSpatialDimensions(3)
    s = m.createSpecies()
    s.setId("A"), s.setCompartment("C"), s.setInitialConcentration(1.0)
    s.setHasOnlySubstanceUnits(False), s.setBoundaryCondition(False), s.setConstant(False)
    p = m.createParameter()
    p.setId("k"), p.setValue(1.0), p.setConstant(True)
    r = m.createReaction()
    r.setId("decay"), r.setReversible(False)
    sr = r.createReactant()
    sr.setSpecies("A"), sr.setStoichiometry(1), sr.setConstant(True)
    r.createKineticLaw().setMath(libsbml.parseL3Formula("k * A * C"))
    e = m.createEvent()
    e.setId("reset"), e.setUseValuesFromTriggerTime(True)
    tr = e.createTrigger()
    tr.setMath(libsbml.parseL3Formula("time >= 1")), tr.setPersistent(True), tr.setInitialValue(True)
    a = e.createEventAssignment()
    a.setVariable("A"), a.setMath(libsbml.parseL3Formula("1"))
    return libsbml.writeSBMLToString(doc)


def _files(directory: Path, toml: str) -> Path:
    if MPI.COMM_WORLD.rank == 0:
        (directory / "ev.xml").write_text(_sbml())
        (directory / "ev.toml").write_text(toml.format(xml=directory / "ev.xml"))
    MPI.COMM_WORLD.Barrier()
    return directory / "ev.toml"


def test_well_mixed_sbml_event_matches_piecewise_exponential(shared_tmp_path):
    cfg = _files(shared_tmp_path, 'mode = "well_mixed"\nsbml = "{xml}"\n\n[well_mixed]\n'
                                  'method = "bdf"\nt_end = 2.0\nn_out = 9\nrtol = 1e-9\natol = 1e-12\n'
                                  'nodes = 2\n')
    out = shared_tmp_path / "out_ev"
    assert main(["reactions", str(cfg), "--out", str(out)]) == 0
    MPI.COMM_WORLD.Barrier()
    res = json.loads((out / "result.json").read_text())
    assert res["n_nodes"] == 2 and res["node_steps"] > 0
    with (out / "timeseries.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "node", "A"]
    data = np.array(rows[1:], dtype=float)
    t = data[:, 0]
    exact = np.where(t < 1.0, np.exp(-t), np.exp(-(t - 1.0)))  # at t = 1: the value after it
    assert np.max(np.abs(data[:, 2] - exact)) < 1e-6


@pytest.mark.parametrize("table, needle", [
    ('[well_mixed]\nt_end = 1.0\n', "well_mixed.method: an SBML model with events runs with method = 'bdf'"),
    ('[well_mixed]\nmethod = "bdf"\nt_end = 1.0\nsweep = {{ parameter = "k", values = [1.0, 2.0] }}\n',
     "well_mixed.sweep"),
    ('[spatial]\nt_end = 1.0\ndt = 0.5\ndiffusivity = {{ A = 1.0 }}\nmesh = {{ cells = [2, 2] }}\n',
     "mode: an SBML model with events runs in mode = 'well_mixed' only"),
])
def test_sbml_events_elsewhere_refused_in_one_line(shared_tmp_path, table, needle):
    mode = "spatial" if table.startswith("[spatial]") else "well_mixed"
    cfg = _files(shared_tmp_path, f'mode = "{mode}"\nsbml = "{{xml}}"\n\n' + table)
    with pytest.raises(ConfigError) as err:
        load_reactions(cfg)
    assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)
