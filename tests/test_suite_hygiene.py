"""The suite's own rule behind its disk diet (tests/conftest.py): every temporary folder belongs to one test
or one module, so a finished module's folders can be removed. A session- or package-scoped fixture that made
a folder with ``tmp_path_factory`` would lose it when the module that first asked for it ends."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from tests.conftest import SLOW_DEADLINE_ENV, pytest_runtest_setup

TESTS = Path(__file__).resolve().parent


def _long_lived_folder_fixtures(source: str) -> list[str]:
    """Names of the fixtures in ``source`` scoped wider than a module that take ``tmp_path_factory``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for deco in node.decorator_list:
            scopes = [
                kw.value.value
                for kw in getattr(deco, "keywords", [])
                if kw.arg == "scope" and isinstance(kw.value, ast.Constant)
            ]
            if {"session", "package"} & set(scopes) and any(
                a.arg == "tmp_path_factory" for a in node.args.args
            ):
                found.append(node.name)
    return found


def test_no_fixture_wider_than_a_module_makes_a_temporary_folder():
    offenders = [
        f"{path.relative_to(TESTS)}::{name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in _long_lived_folder_fixtures(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"session/package fixtures with a folder (conftest removes it early): {offenders}"


def test_the_finder_finds_one():
    source = (
        "import pytest\n"
        "@pytest.fixture(scope='session')\n"
        "def store(tmp_path_factory):\n"
        "    return tmp_path_factory.mktemp('s')\n"
        "@pytest.fixture(scope='module')\n"
        "def fine(tmp_path_factory):\n"
        "    return tmp_path_factory.mktemp('m')\n"
    )
    assert _long_lived_folder_fixtures(source) == ["store"]


class _Item:
    def __init__(self, slow: bool):
        self.slow = slow

    def get_closest_marker(self, name: str):
        return object() if self.slow and name == "slow" else None


def test_slow_tests_past_cis_deadline_are_skipped_saying_why(monkeypatch):
    monkeypatch.delenv(SLOW_DEADLINE_ENV, raising=False)
    pytest_runtest_setup(_Item(slow=True))  # no deadline: runs
    monkeypatch.setenv(SLOW_DEADLINE_ENV, str(time.time() + 3600))
    pytest_runtest_setup(_Item(slow=True))  # before it: runs
    monkeypatch.setenv(SLOW_DEADLINE_ENV, str(time.time() - 1))
    pytest_runtest_setup(_Item(slow=False))  # past it, a fast test still runs
    with pytest.raises(pytest.skip.Exception, match="time budget for slow tests is spent"):
        pytest_runtest_setup(_Item(slow=True))
