"""``bench methods [NAME]``: every method --method accepts, one method's details, an unknown name."""

from __future__ import annotations

from bench.cli import main
from bench.training.methods import list_methods


def test_methods_lists_none_and_every_registered_method(capsys, wide_console):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "plain training (the default)" in out
    for m in list_methods():
        assert m.name in out
    # every built-in method sees the test subjects' inputs: the table says so per row
    assert out.count("yes") == sum(m.transductive for m in list_methods())


def test_one_method_shows_citation_and_what_it_sees(capsys, wide_console):
    assert main(["methods", "dann"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Ganin" in out and "transductive: sees the test subjects' unlabelled inputs" in out


def test_unknown_method_is_one_line(capsys):
    assert main(["methods", "dan"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown method 'dan'" in err and "did you mean 'dann'" in err and len(err.splitlines()) == 1
