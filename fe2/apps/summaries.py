"""The summary table at the end of every ``fe2`` command: what was solved, the time of each part, the files.

One function per command turns its result record into rows ``(part, what, seconds)`` for
:meth:`fe2.io.terminal.Terminal.summary`. Times come from the runner's own timings where it keeps
them, otherwise from the wall time of the command's progress bars (``Terminal.bar_times``); a part
without a measured time shows none.
"""

from __future__ import annotations

from fe2.io.terminal import Terminal

Rows = list[tuple[str, str, float | None]]


def _files(out: str, names) -> str:
    names = list(names)
    return f"{out}/: " + ", ".join(names) if names else f"{out}/"


def homogenize(term: Terminal, data: dict, out: str) -> None:
    t = data.get("timings_s", {})
    mesh = data.get("mesh", {})
    rows: Rows = [("mesh", f"{mesh.get('cells', '?')} cells, {mesh.get('dofs', '?')} dofs", t.get("mesh_s")),
                  ("forms", "compiled once for every condition", t.get("setup_forms_s"))]
    for bc, det in data.get("details", {}).items():
        rows.append((bc, f"apparent tensor, Hill-Mandel {det.get('hill_mandel_max', 0.0):.1e}",
                     det.get("timings_s", {}).get("total_s")))
    n_fields = sum(f.endswith(".pvd") for f in data.get("fields", []))
    files = ["result.json"] + ([f"fields/ ({n_fields} load cases, .xdmf for ParaView, .pvd for pyvista)"]
                               if n_fields else []) + ([data["figure"]] if data.get("figure") else [])
    term.summary("fe2 homogenize", rows, _files(out, files))


def bounds(term: Terminal, summary: dict, out: str) -> None:
    run = summary.get("run", {})
    what = f"{run.get('records_solved', 0)} of {run.get('records_total', 0)} solved now, {run.get('ranks', 1)} rank(s)"
    rows: Rows = [("records", what, run.get("wall_s")), ("report", "statistics, fits, plots", run.get("report_s"))]
    f = summary.get("files", {})
    names = ["summary.json", *(f[k] for k in ("statistics", "gaps", "fits", "realizations") if k in f),
             *f.get("figures", [])]
    term.summary("fe2 bounds", rows, _files(out, names))


def run(term: Terminal, result: dict, out: str) -> None:
    steps = result.get("steps", [])
    micro = result.get("micro", {})
    newton = sum(int(s.get("newton_iterations", 0)) for s in steps)
    what = (f"{len(steps)} step(s), {newton} Newton iterations, "
            f"{result.get('macro_quadrature_points', '?')} macro points")
    rows: Rows = [("load path", what, term.bar_times.get("load path")),
                  ("micro", f"{micro.get('solves', 0)} RVE solves (slowest rank)",
                   max(micro.get("time_per_rank_s", [0.0]) or [0.0]))]
    term.summary("fe2 run", rows, _files(out, ["result.json", "displacement.xdmf/.pvd", "stress.xdmf/.pvd",
                                               "load_displacement.csv/.png", "energy_balance.csv"]))


def reduce(term: Terminal, result: dict, out: str) -> None:
    if result.get("method") == "balanced_truncation":
        what = (f"order {result['order']} of {result.get('full_states', '?')} states, H∞ error "
                f"{result['hinf_error_grid']:.3e} <= bound {result['hinf_bound']:.3e}")
        term.summary("fe2 reduce", [("balanced truncation", what, None)],
                     _files(out, ["reduced_model.npz", "reduced_model.json", "hsv.png", "result.json"]))
        return
    if result.get("method") == "pod":
        what = (f"{result['n_modes']} modes of {result['full_states']} states (discarded energy "
                f"{result['energy_discarded_fraction']:.2e}); test output error "
                f"{result['test_max_relative_output_error']:.2e}, online speed-up {result['online_speedup']:.1f}x")
        term.summary("fe2 reduce", [("POD-Galerkin", what, None)],
                     _files(out, ["reduced_model.npz", "reduced_model.json", "pod.png", "result.json"]))
        return
    trained = f"{result.get('n_snapshots', 0)} snapshots of a {result.get('n_dofs', '?')}-dof RVE"
    reduced = (f"{result['n_modes']} modes, {result['ecm']['n_points']} cubature points; "
               f"validation stress error {result['validation_max_relative_stress_error']:.1e}")
    rows: Rows = [("training", trained, term.bar_times.get("training paths")), ("reduction", reduced, None)]
    term.summary("fe2 reduce", rows, _files(out, ["reduced_rve.npz", "reduced_rve.json", "result.json"]))


def phasefield(term: Terminal, res: dict, out: str) -> None:
    what = (f"{res['steps']} steps to t = {res['t']:g}, free energy {res['energy_initial']:.6g} -> "
            f"{res['energy_final']:.6g}, mass drift {res['mass_relative_drift']:.1e}")
    rows: Rows = [("time integration", what, term.bar_times.get("t"))]
    if res.get("homogenization"):
        rows.append(("homogenization", "RVEs of the microstructure at the requested times", None))
    term.summary("fe2 phasefield", rows, _files(out, ["result.json", "concentration.xdmf/.pvd",
                                                      "free_energy.csv/.png", "history.csv"]))


def reactions(term: Terminal, res: dict, out: str) -> None:
    mode = res.get("mode", "")
    if mode == "well_mixed":
        what = f"{res.get('n_nodes', 1)} node(s), {res.get('node_steps', 0)} node-steps ({res.get('method')})"
    elif mode == "spatial":
        what = (f"{res.get('steps', 0)} steps of dt = {res.get('dt', 0):g} ({res.get('scheme')}), "
                f"{res.get('n_dofs', 0)} dofs per species")
    else:
        what = f"{res.get('n_trajectories', 0)} trajectories ({res.get('method')})"
    if "moiety_drift" in res:
        what += f", moiety drift {res['moiety_drift']:.1e}"
    rows: Rows = [(mode or "reactions", what, res.get("wall_time"))]
    term.summary("fe2 reactions", rows, _files(out, res.get("files", [])))


def identify(term: Terminal, res: dict, out: str) -> None:
    rows: Rows = [("identifiability", f"{len(res.get('verdicts', {}))} parameter(s): structural and practical",
                   res.get("wall_time", res.get("wall_s")))]
    term.summary("fe2 identify", rows, _files(out, res.get("files", [])))


def darcy(term: Terminal, res: dict, out: str) -> None:
    d = res["darcy"]
    t = d.get("timings", {})
    a = d["audit"]
    rows: Rows = []
    if "permeability" in res:
        rows.append(("permeability", f"{res['permeability'].get('cell_solves', '?')} micro Stokes cell(s)",
                     res["permeability"].get("time_s")))
    flow = f"{d.get('n_dofs', '?')} dofs ({d.get('formulation')}), balance residual {a['relative_residual']:.1e}"
    if "transient" in res:
        rows.append(("transient flow", f"{res['transient']['steps']} steps, " + flow, term.bar_times.get("flow t")))
    else:
        rows.append(("flow", flow, sum(v for k, v in t.items() if k in ("assemble", "solve", "audit")) or None))
    if "solute" in res:
        sol = res["solute"]
        what = f"{sol['steps']} steps to t = {sol['t_end_s']:g} s, balance residual {sol['max_relative_residual']:.1e}"
        rows.append(("solute", what, term.bar_times.get("solute t")))
    if "fields_series" in res:
        rows.append(("fields", f"{len(res['fields_series']['times'])} frame(s) in fields.bp/.pvd", None))
    term.summary("fe2 darcy", rows, _files(out, res.get("files", [])))


def uq(term: Terminal, res: dict, out: str) -> None:
    s = res.get("samples", {})
    rows: Rows = [("samples", f"{s.get('ran_now', 0)} run now of {s.get('count', 0)} ({res.get('base')})",
                   s.get("ensemble_wall_s")),
                  ("analysis", str(res.get("method", "")), None)]
    term.summary("fe2 uq", rows, _files(out, ["result.json", "samples/", *res.get("figures", [])]))


__all__ = ["bounds", "darcy", "homogenize", "identify", "phasefield", "reactions", "reduce", "run", "uq"]
