"""The pieces ``fe2 uq`` trusts: the path syntax, and the append-only sample store after a kill."""

from __future__ import annotations

import json

import pytest
from mpi4py import MPI

from fe2.apps.uq.paths import get_path, number_at, parse_path, with_values
from fe2.apps.uq.store import SampleStore
from fe2.errors import ConfigError

pytestmark = pytest.mark.serial  # pure Python on COMM_SELF


def test_path_syntax_names_keys_indices_and_quoted_keys():
    data = {"effective": {"periodic": [[1.5, 0.2], [0.2, 1.4]]}, "details": {"my.phase": {"volume": 0.3}}}
    assert parse_path("effective.periodic[0][-1]", "q") == ("effective", "periodic", 0, -1)
    assert number_at(data, parse_path("effective.periodic[0][-1]", "q"), "result.json", "q") == 0.2
    assert number_at(data, parse_path('details["my.phase"].volume', "q"), "result.json", "q") == 0.3
    changed = with_values(data, {("effective", "periodic", 1, 1): 9.0})
    assert changed["effective"]["periodic"][1][1] == 9.0 and data["effective"]["periodic"][1][1] == 1.4
    for bad in (".a", "a..b", "a[x]", "a[0", "a[0]b", ""):
        with pytest.raises(ConfigError, match="q: "):
            parse_path(bad, "q")
    with pytest.raises(ConfigError, match=r"q: effective.periodic\[2\]: \[2\]: index out of range"):
        get_path(data, parse_path("effective.periodic[2]", "q"), "result.json", "q")
    with pytest.raises(ConfigError, match=r"is a list in result\.json, not a number"):
        number_at(data, parse_path("effective.periodic[0]", "q"), "result.json", "q")


def test_store_drops_a_line_cut_by_a_kill_and_appends_after_it(tmp_path):
    comm = MPI.COMM_SELF
    fp = {"study": 1}
    store = SampleStore(tmp_path, fp, comm, restart=False)
    store.append({"id": 0, "x": [1.0], "scan": None, "qoi": {"y": 2.0}, "wall_s": 0.0})
    store.append({"id": 1, "x": [2.0], "scan": None, "qoi": {"y": 3.0}, "wall_s": 0.0})
    store.close()
    path = tmp_path / "samples" / "rank0.jsonl"
    with path.open("a") as fh:
        fh.write('{"id": 2, "x": [3.0], "qo')  # killed inside the write of sample 2
    resumed = SampleStore(tmp_path, fp, comm, restart=True)
    assert sorted(resumed.finished()) == [0, 1]
    resumed.append({"id": 2, "x": [3.0], "scan": None, "qoi": {"y": 4.0}, "wall_s": 0.0})
    resumed.close()
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [0, 1, 2]
    with pytest.raises(ConfigError, match="different study"):
        SampleStore(tmp_path, {"study": 2}, comm, restart=True)
    SampleStore(tmp_path, {"study": 2}, comm, restart=False)  # a new study starts over
    assert not path.exists()
