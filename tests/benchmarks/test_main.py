"""`python -m benchmarks`: a name runs that benchmark, --help says what there is, a typo runs nothing."""

from __future__ import annotations

import pytest

from benchmarks import __main__ as bench


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Every benchmark replaced by one that records its call (the real ones take minutes)."""
    calls: list[tuple[str, list[str]]] = []
    for name in list(bench.BENCHMARKS):
        monkeypatch.setitem(bench.BENCHMARKS, name, lambda argv, name=name: calls.append((name, argv)) or 0)
    return calls


def test_a_name_runs_that_benchmark_with_its_options(ran: list) -> None:
    assert bench.main(["pipeline", "--events", "300000"]) == 0
    assert ran == [("pipeline", ["--events", "300000"])]


def test_no_name_runs_every_benchmark(ran: list) -> None:
    assert bench.main([]) == 0
    assert [name for name, _ in ran] == list(bench.BENCHMARKS)


def test_a_misspelled_name_runs_nothing_and_says_which_names_exist(ran: list, capsys) -> None:
    assert bench.main(["pipelin"]) == 2
    assert ran == []
    err = capsys.readouterr().err
    assert "no benchmark named 'pipelin'" in err
    assert "materialize-all" in err


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_benchmarks_and_runs_nothing(ran: list, capsys, flag: str) -> None:
    assert bench.main([flag]) == 0
    assert ran == []
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m benchmarks [webhooks|redirects|")


@pytest.mark.parametrize("name", list(bench.BENCHMARKS))
def test_each_benchmarks_help_names_the_command_that_runs_it(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's --help prints and exits 0
        bench.main([name, "--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.split()[:5] == ["usage:", "python", "-m", "benchmarks", name]
