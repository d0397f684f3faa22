"""Pieces the CLI commands share: consoles, value parsers, data options."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from bench.config.run import QUICK_EPOCHS
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.data.datasets import DEFAULT_DATASET, dataset_names, get_dataset
from bench.data.source import env_folder, resolve_source, twin_config
from bench.models.registry import list_models
from bench.models.view import max_epochs_label
from protocols import get_protocol, protocol_for_test_dataset
from protocols.registry import PROTOCOLS

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


EXECUTOR_OPTION = typer.Option(
    None, "--executor", help="local (default) | pool (--workers N) | dask (--scheduler)"
)
WORKERS_OPTION = typer.Option(
    None, "--workers", help="Worker processes of the pool (N > 1 implies --executor pool)"
)
SCHEDULER_OPTION = typer.Option(
    None, "--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786 (--executor dask)"
)
"""Where units run (`bench run`, `bench reproduce`, `bench ablate`; bench.runs.executors.make_executor)."""
LOG_MODEL_HELP = "Save each unit's trained weights as an MLflow artifact (not part of the run key)"
COMPILE_HELP = "torch.compile each model (CUDA graphs on a GPU, for small models; not part of the run key)"


def _envs() -> str:
    return ", ".join(f"${get_dataset(n).env}" for n in dataset_names())


DATASET_OPTION = typer.Option(
    None,
    "--dataset",
    "--train",
    help=f"Dataset: {' | '.join(dataset_names())} (default deap; `bench data info` describes them); "
    "the training dataset of --protocol cross-dataset",
)
DATA_DIR_OPTION = typer.Option(
    None,
    "--data-dir",
    help=f"The dataset's folder; default: its environment variable ({_envs()}), else its embedded "
    "synthetic twin",
)
DEAP_OPTION = typer.Option(
    None,
    "--deap",
    help="DEAP folder (sXX.dat files or DEAP's top folder): short for --dataset deap --data-dir DIR; "
    "default: $DEAP_DIR, else the embedded synthetic DEAP",
)
SYNTHETIC_OPTION = typer.Option(
    False,
    "--synthetic",
    help="Use the dataset's embedded synthetic twin (each dataset's, with --test), even where its "
    "environment variable is set; not with a folder",
)
TEST_OPTION = typer.Option(
    None,
    "--test",
    help=f"Test dataset of --protocol cross-dataset (implied): {' | '.join(dataset_names())}; the run "
    "trains on every subject of --dataset and tests on every subject of this one",
)
TEST_DATA_DIR_OPTION = typer.Option(
    None,
    "--test-data-dir",
    help="The test dataset's folder; default: its environment variable, else its embedded synthetic twin",
)
"""The data options, declared once for every command that reads data (:func:`data_choice` resolves
them): ``--dataset``/``--train``, ``--data-dir``, ``--deap`` (DEAP's shorthand), ``--synthetic``, and on
commands that build a run config ``--test``/``--test-data-dir`` for the cross-dataset protocol."""


@dataclass(frozen=True)
class DataChoice:
    """Where a command's data comes from, as its data options say (checked; nothing read yet).

    ``dataset`` and ``test`` are None where the options name none: a run config file may name them
    (``dataset = "dreamer"``), else the dataset is DEAP. A dataset without a folder is read from the
    folder its environment variable names, else from its embedded synthetic twin (always with
    ``synthetic``).
    """

    dataset: str | None = None
    folder: Path | None = None
    synthetic: bool = False
    test: str | None = None
    test_folder: Path | None = None
    deap_flag: bool = False
    """The folder was given as ``--deap DIR`` (echoed back that way)."""

    def name(self, configured: str | None = None) -> str:
        """The dataset read: the options', else the config file's, else DEAP (a name checked here)."""
        return get_dataset(self.dataset or configured or DEFAULT_DATASET).name

    def from_twin(self, dataset: str, *, test: bool = False) -> bool:
        """``dataset`` (the training one, or the test one) is read from its embedded synthetic twin."""
        folder = self.test_folder if test else self.folder
        return self.synthetic or (folder is None and env_folder(dataset) is None)

    def embedded(self, dataset: str, test: str | None = None) -> bool:
        """Every dataset of the run comes from its embedded synthetic twin (what the quick-epochs default
        of ``bench run`` applies to)."""
        return self.from_twin(dataset) and (test is None or self.from_twin(test, test=True))

    def config_values(self) -> dict:
        """``dataset``/``test_dataset`` for the run config (None: the config file's, else the default)."""
        return {"dataset": self.dataset, "test_dataset": self.test}

    def protocol(self, protocol: str | None, configured: str | None = None) -> str | None:
        """The ``--protocol`` value once ``--test`` is taken into account: ``--test`` implies the
        protocol that reads a test dataset (cross-dataset) where neither the option nor the config file
        (``configured``) names a protocol, and is refused with a protocol that reads one dataset."""
        if self.test is None:
            return protocol
        given = protocol if protocol is not None else configured
        implied = protocol_for_test_dataset().name
        if given is None:
            return implied
        if given not in PROTOCOLS or not get_protocol(given).two_datasets:
            raise ConfigError(
                f"--test {self.test} names the test dataset of --protocol {implied}, not of "
                f"protocol {given!r}"
            )
        return protocol

    def check_run(self, cfg) -> None:
        """Checks that need the run config: a test folder needs a test dataset (from --test or the
        config file)."""
        if self.test_folder is not None and cfg.test_dataset is None:
            implied = protocol_for_test_dataset().name
            raise ConfigError(f"--test-data-dir needs a test dataset: --test NAME (--protocol {implied})")

    def prepare_args(self) -> dict:
        """Keyword arguments of :func:`bench.runs.plan.prepare` / :func:`bench.runs.plan.load_data`."""
        synthetic = True if self.synthetic else None  # True: each dataset's embedded twin
        return {"deap": self.folder, "synthetic": synthetic, "test_data": self.test_folder}

    def twin(self, dataset: str):
        """The SyntheticConfig of ``dataset``'s embedded twin with ``--synthetic``, else None."""
        return twin_config(dataset) if self.synthetic else None

    def source(self, dataset: str, subjects: list[int] | None, echo=None):
        """The :class:`~bench.data.source.DataSource` of commands that read one dataset without a run
        config (``bench data prepare``, ``bench data show``)."""
        twin = self.twin(dataset)
        return resolve_source(self.folder, subjects=subjects, synthetic=twin, echo=echo, dataset=dataset)

    def argv(self, dataset: str, test: str | None = None) -> list[str]:
        """The data options that choose this data again (for a command a command prints)."""
        if self.deap_flag:
            out = ["--deap", str(self.folder)]
        else:
            out = [] if dataset == DEFAULT_DATASET and self.dataset is None else ["--dataset", dataset]
            out += [] if self.folder is None else ["--data-dir", str(self.folder)]
        if test is not None:
            out += ["--test", test]
            out += [] if self.test_folder is None else ["--test-data-dir", str(self.test_folder)]
        return out + (["--synthetic"] if self.synthetic else [])


def data_choice(
    *,
    dataset: str | None,
    data_dir: Path | None,
    deap: Path | None,
    synthetic: bool,
    test: str | None = None,
    test_data_dir: Path | None = None,
) -> DataChoice:
    """Check the data options (names, the ones that exclude each other) before anything else runs;
    each refusal is one line."""
    if dataset is not None:
        check_option("--dataset", dataset, dataset_names())
    if test is not None:
        check_option("--test", test, dataset_names())
    if deap is not None:
        if dataset not in (None, "deap"):
            raise ConfigError(
                f"--deap DIR is DEAP's folder (--dataset deap --data-dir DIR); for --dataset {dataset} "
                "give --data-dir DIR"
            )
        if data_dir is not None:
            raise ConfigError(
                "--deap and --data-dir exclude each other (--deap DIR is --dataset deap --data-dir DIR)"
            )
        if synthetic:
            raise ConfigError("--deap and --synthetic exclude each other")
    for flag, folder in (("--data-dir", data_dir), ("--test-data-dir", test_data_dir)):
        if synthetic and folder is not None:
            raise ConfigError(
                f"{flag} and --synthetic exclude each other (--synthetic reads the embedded twins)"
            )
    return DataChoice(
        dataset="deap" if deap is not None else dataset,
        folder=deap if deap is not None else data_dir,
        synthetic=synthetic,
        test=test,
        test_folder=test_data_dir,
        deap_flag=deap is not None,
    )


def full_size_hint(dataset: str, test: str | None = None) -> str:
    """How to run on full-size synthetic data instead of the embedded twin(s) (said with the quick-epochs
    line of ``bench run``): DEAP's wording as before other datasets were registered."""
    if test is None:
        if dataset == "deap":
            return "; `bench data synth DIR --subjects 32` then `--deap DIR` for a full-size synthetic DEAP"
        title = get_dataset(dataset).title
        return (
            f"; `bench data synth DIR --dataset {dataset}` then `--dataset {dataset} --data-dir DIR` for a "
            f"full-size synthetic {title}"
        )
    a, b = get_dataset(dataset).title, get_dataset(test).title
    return (
        f"; `bench data synth DIR --dataset {dataset}` and `bench data synth DIR2 --dataset {test}` then "
        f"`--data-dir DIR --test-data-dir DIR2` for full-size synthetic {a} and {b}"
    )


def exit_interrupted(message: str) -> NoReturn:
    """Ctrl-C: one line saying what was kept, exit 130. (typer turns a bare KeyboardInterrupt into a
    silent exit 130, and runs and statuses are already right, so only the words are added here.)"""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(130)


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def parse_subjects(text: str | None, dataset: str | None = None) -> list[int] | None:
    """Parse ``"1-32"``, ``"1,3,5-8"`` into sorted subject numbers (None stays None).

    Subjects are numbered from 1; with ``dataset`` (a registered name) also at most its subject count,
    and the message names its numbering. Without it the range is left to the run config's resolution
    (bench.runs.identity), which checks it per dataset.
    """
    if text is None or text.strip().lower() in ("", "all"):
        return None
    ds = None if dataset is None else get_dataset(dataset)
    high = ds.n_subjects if ds is not None else None
    numbered = "numbered from 1" if ds is None else f"numbered 1-{high}"
    numbered += "" if ds is None or ds.name == "deap" else f" in {ds.title}"
    out: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise ConfigError(f"--subjects {text!r}: expected numbers and ranges like '1-32' or '1,3,5-8'")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo < 1 or lo > hi or (high is not None and hi > high):
            raise ConfigError(f"--subjects {text!r}: subjects are {numbered}")
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_overrides(items: list[str] | None, option: str) -> dict:
    """Parse repeated ``key=value`` options; values are JSON when they parse, else strings."""
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected key=value")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.strip().replace("-", "_")] = value
    return out


def read_config_file(path: Path | None) -> dict:
    """Read a TOML or JSON config file into a dict (missing or bad file: one-line error).

    Both formats are UTF-8 by definition; a file in another encoding (a Windows editor's cp1252, say)
    and a JSON file whose top level is not an object of options are refused with what to do.
    """
    if path is None:
        return {}
    kind = "JSON" if str(path).endswith(".json") else "TOML"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            f"{kind} config files are UTF-8: save it as UTF-8"
        ) from None
    try:
        doc = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid {kind} ({exc})") from None
    if not isinstance(doc, dict):  # TOML's top level is always a table
        got = JSON_KINDS.get(type(doc), type(doc).__name__)
        raise ConfigError(f'{path}: expected a JSON object of options ({{"model": "mtcnn", ...}}), not {got}')
    return doc


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
              type(None): "null"}  # fmt: skip
"""JSON's names of the values ``json.loads`` returns, for messages about a file's top level."""


def epochs_help(lead: str = "Max epochs (early stopping may end sooner)") -> str:
    """``--epochs`` help that says what happens without it, from the code's own numbers: each trainable
    model's default epoch cap (registry) and the cap of the embedded synthetic default (``QUICK_EPOCHS``)."""
    caps: dict[str, list[str]] = {}
    for info in list_models():
        if info.trainable:
            caps.setdefault(max_epochs_label(info), []).append(info.name)
    per_model = ", ".join(f"{cap} for {'/'.join(names)}" for cap, names in caps.items())
    return (
        f"{lead}; default: the model's own cap ({per_model}), or at most {QUICK_EPOCHS} on the embedded "
        "synthetic twins (--synthetic, or no folder and no $DEAP_DIR or the dataset's own variable)"
    )
