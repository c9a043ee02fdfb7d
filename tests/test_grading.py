"""``mallwake grade``: a class's submitted notebooks executed safely and scored (issue 30, item 6)."""

from __future__ import annotations

import socket
import threading

import nbformat
import pandas as pd
import pytest

from analysis.application import cli
from analysis.application.grading import network_isolation

KM_ANSWER = """s100 = 1.0
for day in sorted(tiny.loc[(tiny["asleep"] == 1) & (tiny["days"] <= 100), "days"].unique()):
    s100 *= 1 - ((tiny["days"] == day) & (tiny["asleep"] == 1)).sum() / (tiny["days"] >= day).sum()"""


def _edit(path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


@pytest.mark.slow
def test_a_class_is_graded_safely_one_row_per_exercise(small_mall, tmp_path, capsys):
    handout = tmp_path / "handout"
    assert cli.main(["handout", str(handout), "--data", str(small_mall)]) == 0
    t2 = handout / "t2_survival_and_lifecycle.ipynb"
    subs = tmp_path / "submissions"
    for student in ("alice", "bob", "carol", "dave"):
        (subs / student).mkdir(parents=True)
        (subs / student / t2.name).write_bytes(t2.read_bytes())

    def answer(nb):  # alice answers exercise 1 right
        cell = next(c for c in nb.cells if c.source.strip().endswith("s100 = None  # your answer"))
        cell.source = cell.source.replace("s100 = None  # your answer", KM_ANSWER)

    _edit(subs / "alice" / t2.name, answer)
    _edit(subs / "bob" / t2.name, lambda nb: nb.cells.insert(3, nbformat.v4.new_code_cell("raise ValueError('my bug')")))
    _edit(subs / "carol" / t2.name, lambda nb: nb.cells.insert(3, nbformat.v4.new_code_cell("while True:\n    pass")))
    # dave's notebook tries to reach a server on this machine: without network it cannot
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    probe = (
        f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "except OSError:\n    pass\nelse:\n    raise RuntimeError('the network was reached')"
    )
    _edit(subs / "dave" / t2.name, lambda nb: nb.cells.insert(3, nbformat.v4.new_code_cell(probe)))
    out = tmp_path / "scores"
    assert cli.main(["grade", str(subs), "--out", str(out), "--data", str(small_mall), "--timeout", "20"]) == 0
    scores = pd.read_csv(out / "scores.csv", encoding="utf-8-sig", keep_default_na=False)
    by = {s: g for s, g in scores.groupby("student")}
    assert set(by) == {"alice", "bob", "carol", "dave"}
    assert list(by["alice"]["status"]) == ["right", "open"], by["alice"]  # exercise 1 answered, exercise 2 not
    assert by["alice"]["exercise"].iloc[0] == "Kaplan-Meier by hand"
    assert list(by["bob"]["status"]) == ["failed"] and "my bug" in by["bob"]["message"].iloc[0]
    assert list(by["carol"]["status"]) == ["failed"] and "longer than 20 s" in by["carol"]["message"].iloc[0]
    if network_isolation():
        assert list(by["dave"]["status"]) == ["open", "open"], by["dave"]
    page = (out / "scores.html").read_text(encoding="utf-8")
    assert "alice" in page and "my bug" in page and "<script" not in page
    # the students' files are only read
    assert "raise ValueError('my bug')" in (subs / "bob" / t2.name).read_text(encoding="utf-8")
    assert not list(subs.rglob("executed-*"))
    server.close()


def test_grading_refuses_an_empty_or_missing_folder(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no notebooks" in capsys.readouterr().err and not (tmp_path / "o").exists()
