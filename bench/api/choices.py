"""Where a run's data comes from: the data options of ``bench run`` and of :func:`bench.run`, checked
before anything is read.

The same names serve both: ``dataset`` (``--dataset``/``--train``), ``data_dir`` (``--data-dir``),
``deap`` (``--deap``, DEAP's shorthand), ``synthetic`` (``--synthetic``), and for the cross-dataset
protocol ``test`` (``--test``) and ``test_data_dir`` (``--test-data-dir``). Refusals are one-line
:class:`~bench.core.errors.ConfigError` messages that name the CLI flags, whoever called.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.data.datasets import DEFAULT_DATASET, dataset_names, get_dataset
from bench.data.source import env_folder, resolve_source, twin_config
from protocols import get_protocol, protocol_for_test_dataset
from protocols.registry import PROTOCOLS


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
