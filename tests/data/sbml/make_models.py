"""Write the small SBML models of tests/physics/reactions/test_sbml.py (SBML Level 3 Version 2, python-libsbml).

Run once after changing a model: ``python tests/data/sbml/make_models.py``; the XML files are
kept in the repository so that the tests need neither this script nor a network connection.

* ``enzyme_mm.xml`` — Michaelis–Menten enzyme kinetics as explicit mass action,
  E + S <-> C -> E + P; conserved moieties E + C and S + C + P.
* ``robertson.xml`` — Robertson's stiff chemical kinetics (Robertson 1966; Hairer & Wanner,
  *Solving ODEs II*, problem ROBER): A -> B (0.04), 2B -> B + C (3e7), B + C -> A + C (1e4),
  in a compartment of size 0.5.
* ``repressilator.xml`` — the Elowitz–Leibler repressilator (Nature 403, 2000), dimensionless,
  in a compartment of size 2.5: a function definition (Hill repression), local parameters,
  an assignment rule (inducer-scaled promoter strength), a boundary species (the inducer),
  a species with hasOnlySubstanceUnits = true and an initial amount, an initial assignment.
* ``decay_event.xml`` — first-order decay with an event (must be rejected by the importer).
"""

from __future__ import annotations

from pathlib import Path

import libsbml

HERE = Path(__file__).resolve().parent


class _Builder:
    def __init__(self, model_id: str):
        self.doc = libsbml.SBMLDocument(3, 2)
        self.m = self.doc.createModel()
        self.m.setId(model_id)

    def compartment(self, cid: str, size: float):
        c = self.m.createCompartment()
        c.setId(cid), c.setSize(size), c.setConstant(True), c.setSpatialDimensions(3)

    def species(self, sid: str, comp: str, *, conc: float | None = None, amount: float | None = None,
                only_substance: bool = False, boundary: bool = False):
        s = self.m.createSpecies()
        s.setId(sid), s.setCompartment(comp), s.setHasOnlySubstanceUnits(only_substance)
        s.setBoundaryCondition(boundary), s.setConstant(False)
        if conc is not None:
            s.setInitialConcentration(conc)
        if amount is not None:
            s.setInitialAmount(amount)

    def parameter(self, pid: str, value: float | None = None, constant: bool = True):
        p = self.m.createParameter()
        p.setId(pid), p.setConstant(constant)
        if value is not None:
            p.setValue(value)

    def function(self, fid: str, formula: str):
        f = self.m.createFunctionDefinition()
        f.setId(fid)
        f.setMath(_math(formula))

    def reaction(self, rid: str, reactants: dict, products: dict, law: str, *,
                 modifiers=(), local: dict | None = None, reversible: bool = False):
        r = self.m.createReaction()
        r.setId(rid), r.setReversible(reversible)
        for sid, nu in reactants.items():
            sr = r.createReactant()
            sr.setSpecies(sid), sr.setStoichiometry(nu), sr.setConstant(True)
        for sid, nu in products.items():
            sr = r.createProduct()
            sr.setSpecies(sid), sr.setStoichiometry(nu), sr.setConstant(True)
        for sid in modifiers:
            r.createModifier().setSpecies(sid)
        kl = r.createKineticLaw()
        for pid, v in (local or {}).items():
            lp = kl.createLocalParameter()
            lp.setId(pid), lp.setValue(v)
        kl.setMath(_math(law))

    def write(self, name: str) -> Path:
        doc = self.doc
        n = doc.checkInternalConsistency()
        errs = [doc.getError(i) for i in range(doc.getNumErrors()) if doc.getError(i).isError()]
        if n and errs:
            raise RuntimeError(f"{name}: {errs[0].getMessage()}")
        path = HERE / name
        libsbml.writeSBMLToFile(doc, str(path))
        return path


def _math(formula: str) -> libsbml.ASTNode:
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        raise ValueError(f"cannot parse {formula!r}: {libsbml.getLastParseL3Error()}")
    return ast


def enzyme_mm() -> _Builder:
    b = _Builder("enzyme_mm")
    b.compartment("cell", 1.0)
    for sid, c0 in (("E", 1.0), ("S", 10.0), ("C", 0.0), ("P", 0.0)):
        b.species(sid, "cell", conc=c0)
    for pid, v in (("k1", 1.0), ("km1", 1.0), ("k2", 1.0)):
        b.parameter(pid, v)
    b.reaction("binding", {"E": 1, "S": 1}, {"C": 1}, "cell * (k1 * E * S - km1 * C)", reversible=True)
    b.reaction("catalysis", {"C": 1}, {"E": 1, "P": 1}, "cell * k2 * C")
    return b


def robertson() -> _Builder:
    b = _Builder("robertson")
    b.compartment("vessel", 0.5)
    b.species("A", "vessel", conc=1.0)
    b.species("B", "vessel", conc=0.0)
    b.species("C", "vessel", conc=0.0)
    for pid, v in (("k1", 0.04), ("k2", 3e7), ("k3", 1e4)):
        b.parameter(pid, v)
    b.reaction("r1", {"A": 1}, {"B": 1}, "vessel * k1 * A")
    b.reaction("r2", {"B": 2}, {"B": 1, "C": 1}, "vessel * k2 * B^2")
    b.reaction("r3", {"B": 1, "C": 1}, {"A": 1, "C": 1}, "vessel * k3 * B * C")
    return b


def repressilator() -> _Builder:
    """dm_i/dt = -m_i + alpha/(1 + p_j^n) + alpha0, dp_i/dt = -beta (p_i - m_i), j = i-1 (mod 3),
    with alpha = alpha_max / (1 + I/K_I) (assignment rule; I the boundary inducer).
    m2 has hasOnlySubstanceUnits = true: its laws use the amount m2 = [m2] * cell."""
    b = _Builder("repressilator")
    b.compartment("cell", 2.5)
    b.species("m1", "cell", conc=0.2)
    b.species("m2", "cell", amount=0.75, only_substance=True)  # [m2](0) = 0.75 / 2.5 = 0.3
    b.species("m3", "cell", conc=0.0)
    b.species("p1", "cell", conc=0.0)
    b.species("p2", "cell", conc=0.0)
    b.species("p3", "cell", conc=0.0)  # initial assignment below
    b.species("I", "cell", conc=0.5, boundary=True)
    b.parameter("alpha_max", 250.0)
    b.parameter("K_I", 5.0)
    b.parameter("alpha", None, constant=False)
    b.parameter("alpha0", 0.25)
    b.parameter("beta", 5.0)
    b.parameter("n", 2.0)
    b.parameter("p3_0", 1.5)
    rule = b.m.createAssignmentRule()
    rule.setVariable("alpha"), rule.setMath(_math("alpha_max / (1 + I / K_I)"))
    ia = b.m.createInitialAssignment()
    ia.setSymbol("p3"), ia.setMath(_math("2 * p3_0"))
    b.function("hill_rep", "lambda(x, a, h, a / (1 + x^h))")
    for i, j in ((1, 3), (2, 1), (3, 2)):
        m, p, rep = f"m{i}", f"p{i}", f"p{j}"
        m_conc = f"({m} / cell)" if i == 2 else m
        b.reaction(f"transcription{i}", {}, {m: 1}, f"cell * (hill_rep({rep}, alpha, n) + alpha0)",
                   modifiers=(rep,))
        b.reaction(f"mrna_decay{i}", {m: 1}, {}, f"cell * kd * {m_conc}", local={"kd": 1.0})
        b.reaction(f"translation{i}", {}, {p: 1}, f"cell * beta * {m_conc}", modifiers=(m,))
        b.reaction(f"protein_decay{i}", {p: 1}, {}, f"cell * kd * {p}", local={"kd": 5.0})
    return b


def decay_event() -> _Builder:
    b = _Builder("decay_event")
    b.compartment("cell", 1.0)
    b.species("X", "cell", conc=1.0)
    b.parameter("k", 1.0)
    b.reaction("decay", {"X": 1}, {}, "cell * k * X")
    ev = b.m.createEvent()
    ev.setId("refill"), ev.setUseValuesFromTriggerTime(True)
    trig = ev.createTrigger()
    trig.setMath(_math("X < 0.1")), trig.setInitialValue(False), trig.setPersistent(True)
    ea = ev.createEventAssignment()
    ea.setVariable("X"), ea.setMath(_math("1"))
    return b


MODELS = {"enzyme_mm.xml": enzyme_mm, "robertson.xml": robertson,
          "repressilator.xml": repressilator, "decay_event.xml": decay_event}


if __name__ == "__main__":
    for name, build in MODELS.items():
        print("wrote", build().write(name))
