"""``bench tune``: search MT-CNN's loss weights (and optionally lr, dropout) with Optuna on validation data.

See :mod:`bench.runs.tuning_space` for the parametrisation (ratio ``w_v / w_a`` on a log scale, sum fixed
at 2) and the objective (validation folds only), :mod:`bench.runs.tuning_study` for storage and tracking.
"""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path

import click
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.api.choices import data_choice
from bench.api.experiment import quick_epochs_line
from bench.api.settings import build_config, parse_overrides, parse_subjects, read_config_file
from bench.cli.common import (
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    SYNTHETIC_OPTION,
    console,
    epochs_help,
    err_console,
)
from bench.cli.run_progress import stamp
from bench.config.run import QUICK_EPOCHS, RunConfig
from bench.core.checks import check_name
from bench.core.host import resolve_device
from bench.runs.tuning import _validate, check_tunable, default_study_name, run_study
from bench.runs.tuning_space import canonical_objective
from bench.runs.tuning_study import redact, resolve_storage
from bench.tracking.uris import check_tracking_uri, resolve_tracking_uri


class RichTuneReporter:
    """A trials bar whose description shows the best value so far."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("trials", total=1)

    def note(self, message: str) -> None:
        err_console.print(message, markup=False)

    def start(self, n_trials: int, n_existing: int, best: float | None) -> None:
        self.progress.update(self.task, total=n_trials, description=self._desc(best))
        if n_existing:
            err_console.print(
                f"Resuming the study: {n_existing} trial(s) already in the storage.", markup=False
            )

    def trial(self, trial, best: float | None) -> None:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        self.progress.advance(self.task)
        self.progress.update(self.task, description=self._desc(best))
        if not self.progress.disable:
            return
        err_console.print(
            f"{stamp()} trial {trial.number}: {trial.state.name} {value} (best {self._best(best)})",
            markup=False, highlight=False,
        )  # fmt: skip

    @staticmethod
    def _best(best: float | None) -> str:
        return "-" if best is None else f"{best:.4f}"

    def _desc(self, best: float | None) -> str:
        return f"trials (best {self._best(best)})"


def trials_table(res, limit: int = 10) -> Table:
    """The best trials of the study (all sessions), best first."""
    title = f"study {res.study} | objective {res.objective} (lower is better) | space {res.space}"
    table = Table(title=title)
    for col in ("trial", "state", "log2 r", "w valence", "w arousal"):
        table.add_column(col, justify="right")
    extra = [k for k in ("lr", "dropout") if any(k in t.params for t in res.trials)]
    for k in extra:
        table.add_column(k, justify="right")
    table.add_column("value", justify="right")
    ranked = sorted(res.trials, key=lambda t: (t.value is None or not math.isfinite(t.value), t.value or 0))
    for t in ranked[:limit]:
        w = (t.user_attrs.get("w_valence"), t.user_attrs.get("w_arousal"))
        cells = [str(t.number), t.state.name, f"{t.params.get('log2_ratio', float('nan')):+.2f}"]
        cells += ["-" if v is None else f"{v:.3f}" for v in w]
        cells += [f"{t.params[k]:.4g}" if k in t.params else "-" for k in extra]
        cells.append("-" if t.value is None else f"{t.value:.4f}")
        table.add_row(*cells)
    return table


def register(app: typer.Typer) -> None:
    @app.command("tune")
    def tune(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Registered multi-task model (default mtcnn)"
        ),
        protocol: str | None = typer.Option(
            None, "--protocol", "-p", help="Protocol whose folds are used (default whole-set)"
        ),
        split: str | None = typer.Option(None, "--split", help="trial (default) | segment (leaky) | subject"),
        trials: int = typer.Option(20, "--trials", "-n", help="Trials to add to the study"),
        storage: str | None = typer.Option(
            None, "--storage", help="Optuna storage URL (default sqlite:///./optuna.db)"
        ),
        study: str | None = typer.Option(None, "--study", help="Study name (default MODEL-PROTOCOL-SPACE)"),
        timeout: float | None = typer.Option(None, "--timeout", help="Stop starting trials after S seconds"),
        n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Worker processes on the same storage"),
        space: str = typer.Option("weights", "--space", help="weights | weights+lr+dropout"),
        objective: str = typer.Option(
            "valid-loss", "--objective", help="valid-loss | valid-bacc (validation part only)"
        ),
        tune_folds: int = typer.Option(1, "--tune-folds", help="Folds per trial (first K; default 1)"),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help=epochs_help("Max epochs per fold")),
        folds: int | None = typer.Option(None, "--folds", help="Outer folds of the protocol (default 5)"),
        subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
        dataset: str | None = DATASET_OPTION,
        data_dir: Path | None = DATA_DIR_OPTION,
        deap: Path | None = DEAP_OPTION,
        synthetic: bool = SYNTHETIC_OPTION,
        seed: int | None = typer.Option(None, "--seed", help="Seed (folds, init, TPE sampler)"),
        config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file (as bench run)"),
        model_opt: list[str] | None = typer.Option(
            None, "-M", "--model-option", help="Model option key=value"
        ),
        feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"
        ),
    ) -> None:
        """Tune the multi-task loss weights w_v/w_a (sum fixed at 2) with Optuna on validation folds."""
        import optuna

        data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic)
        objective = canonical_objective(objective)
        _validate(trials, space, objective, tune_folds, n_jobs, timeout)
        if study is not None:  # an MLflow run name and a terminal line: no control characters
            check_name("--study", study)
        file_cfg = read_config_file(config)
        sub = parse_subjects(subjects, data.name(file_cfg.get("dataset")))
        d = build_config(
            file_cfg, train={"max_epochs": epochs},
            feature_config=parse_overrides(feature, "-F/--feature"),
            model_options=parse_overrides(model_opt, "-M/--model-option"), **data.config_values(),
            model=model, protocol=protocol, split=split, n_folds=folds, seed=seed, device=device,
            subjects=tuple(sub) if sub else None,
        )  # fmt: skip
        checked = RunConfig.from_dict(d)
        check_tunable(checked)  # user errors first, before any output
        resolve_device(checked.device)
        tracking_uri = check_tracking_uri(tracking_uri, write=True)
        if data.embedded(checked.dataset, checked.test_dataset) and d["train"].get("max_epochs") is None:
            d["train"]["max_epochs"] = QUICK_EPOCHS
            err_console.print(quick_epochs_line())
        cfg = RunConfig.from_dict(d)
        name = study or default_study_name(cfg, space)
        url = resolve_storage(storage)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        err_console.print(
            f"Study {name!r} in {redact(url)}; tracking to {resolve_tracking_uri(tracking_uri)}", markup=False
        )
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=True, disable=not sys.stderr.isatty(),
        ) as bar:  # fmt: skip
            res = run_study(
                cfg, n_trials=trials, study_name=name, storage=url, space=space, objective=objective,
                tune_folds=tune_folds, n_jobs=n_jobs, timeout=timeout, deap=data.folder,
                synthetic=data.twin(cfg.dataset), tracking_uri=tracking_uri,
                reporter=RichTuneReporter(bar),
            )  # fmt: skip
        console.print(trials_table(res))
        for note in res.notes:
            err_console.print(f"note: {note}", markup=False)
        console.print(
            f"{res.n_new} new trial(s); study total: {res.n_complete} complete, {res.n_pruned} pruned, "
            f"{res.n_fail} failed. MLflow parent run {res.parent_run_id}."
        )
        if res.best is None:
            console.print("No completed trial yet.")
            if res.interrupted:
                raise click.exceptions.Abort()  # bench.cli.main: "interrupted", exit code 130
            return
        b = res.best
        console.print(
            f"Best: trial {b.trial}, w_valence={b.weights[0]:g}, w_arousal={b.weights[1]:g} "
            f"({res.objective} {b.value:.4f})"
            + "".join(f", {k}={b.params[k]:.4g}" for k in ("lr", "dropout") if k in b.params)
        )
        cmd = ["bench", "run", "--model", cfg.model, "--protocol", cfg.protocol,
               "--loss-weights", f"tuned:{name}"]  # fmt: skip
        if storage is not None:
            cmd += ["--storage", storage]
        cmd += data.argv(cfg.dataset)
        passed = {"--split": split, "--folds": folds, "--subjects": subjects, "--epochs": epochs,
                  "--seed": seed, "--tracking-uri": tracking_uri}  # fmt: skip
        for flag, value in passed.items():
            if value is not None:
                cmd += [flag, str(value)]
        if config is not None:
            cmd += ["--config", str(config)]
        for flag, items in (("-F", feature), ("-M", model_opt)):
            for item in items or []:
                cmd += [flag, item]
        if "lr" in b.params:  # tuned:STUDY resolves the weights only; the rest is passed explicitly
            cmd += ["--lr", f"{b.params['lr']:.4g}"]
        if "dropout" in b.params:
            cmd += ["-M", f"dropout={b.params['dropout']:.4g}"]
        console.print("Evaluate once on the test folds: " + shlex.join(cmd), soft_wrap=True)
        if res.interrupted:
            raise click.exceptions.Abort()
