"""A run is resolved once: ``bench run`` resolves its config once in the command, a pool worker plans
with the resolved run its task carries and never resolves it again, and a tuning trial derives its run
from the resolved one."""

from __future__ import annotations

import pickle

import pytest

import bench.runs.resolved
import bench.runs.runner as runner
from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.runs.executors import PoolExecutor
from bench.runs.jobs import UnitContext
from bench.runs.resolved import ResolvedRun, resolve_run
from bench.runs.unit_worker import run_task

pytestmark = pytest.mark.usefixtures("wide_console")


def _count_resolutions(monkeypatch) -> list[RunConfig]:
    """Every config :func:`bench.runs.resolved.resolve_run` resolves from now on, in this process."""
    calls: list[RunConfig] = []
    real = bench.runs.resolved.resolve_config

    def counted(cfg: RunConfig) -> RunConfig:
        calls.append(cfg)
        return real(cfg)

    monkeypatch.setattr(bench.runs.resolved, "resolve_config", counted)
    return calls


@pytest.mark.parametrize("executor", [[], ["--executor", "pool", "--workers", "2"]], ids=["local", "pool"])
def test_bench_run_resolves_its_config_once(executor, deap_dir, tmp_path, monkeypatch, capsys):
    calls = _count_resolutions(monkeypatch)
    args = ["run", "--model", "majority", "--deap", str(deap_dir), "--folds", "2",
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db", *executor]  # fmt: skip
    assert main(args) == 0
    assert "fold1" in capsys.readouterr().out
    assert len(calls) == 1  # in this process; the pool's workers are checked below


class _NoResolving:
    """A pool task function: :func:`run_task` in a worker where resolving a config is an error."""

    def __call__(self, task):
        def refuse(cfg):
            raise AssertionError("a worker resolved the run's config again")

        bench.runs.resolved.resolve_config = refuse  # only in this worker process
        return run_task(task)


def _cfg() -> RunConfig:
    return RunConfig(model="majority", n_folds=2, seed=0, train=TrainConfig(max_epochs=1))


def test_pool_workers_plan_with_the_resolved_run_they_are_given(features, cache_dir, tmp_path):
    p = runner.prepare(_cfg(), features=features)
    res = runner.run_experiment(
        p.config, prepared=p, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", cache_dir=cache_dir,
        executor=PoolExecutor(2, task_fn=_NoResolving()),
    )  # fmt: skip
    assert len(res.units) == 2 and not any(u.reused for u in res.units)


def test_a_task_carries_the_resolved_run_and_pickles(features, cache_dir):
    p = runner.prepare(_cfg(), features=features)
    ctx = UnitContext(p, None, "0", "parent", {}, None, None, "sqlite:///x.db", cache_dir=cache_dir)
    task = ctx.task(p.units[0][0])
    assert task.run is p.run
    back = pickle.loads(pickle.dumps(task))
    assert isinstance(back.run, ResolvedRun) and back.run == p.run
    assert back.run.info.factory is p.run.info.factory  # by reference, not a copy
    assert back.run.protocol == p.run.protocol and back.run.precision == "fp32"


def test_resolved_run_holds_what_the_plan_reads():
    run = resolve_run(RunConfig(model="mtcnn", n_folds=2))
    assert run.config == resolve_run(run.config).config  # resolving is idempotent
    assert run.info.name == "mtcnn" and run.protocol.name == "whole-set" and run.dataset.name == "deap"
    assert run.hparams["dropout"] == run.info.defaults["dropout"]
    assert run.input_spec.features == ("de", "psd") and run.precision in ("fp32", "bf16")
    trial = run.with_dropout(0.3)
    assert trial.hparams["dropout"] == 0.3 == trial.config.train.dropout
    assert run.hparams["dropout"] != 0.3  # the resolved run is left as it was
    with pytest.raises(ConfigError, match="^model 'majority' has no dropout to set$"):
        resolve_run(RunConfig(model="majority")).with_dropout(0.3)
