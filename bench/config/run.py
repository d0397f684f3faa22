"""One typed configuration for a benchmark run, resolved once, hashed, and logged whole."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from bench.core.checks import check_number, check_option, check_type
from bench.core.errors import ConfigError
from bench.core.tasks import check_tasks
from bench.data.datasets import DEFAULT_DATASET, dataset_names, get_dataset, pair_tasks
from bench.data.inputs import FEATURE_KINDS

PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
STANDARDISE = ("train", "none")
SELECT_BY = ("loss", "acc", "f1")
"""``train.select_by``: the validation criterion that picks the best epoch."""
AUDITS = ("select-on-test",)
RECIPES = ("harness", "paper")
"""``harness``: one training recipe for every model (TrainConfig's defaults); ``paper``: the model's own
training set-up where its paper gives one (the registry's ``paper_recipe``, applied by
bench.models.recipes)."""


@dataclass(frozen=True)
class TrainConfig:
    """How one model is fitted. Defaults are the harness recipe, applied to every model: the MT-CNN
    authors' set-up (Rudakov et al. 2021) with a validation part carved out of the training data.

    ``max_epochs=None`` takes the model's own default; ``dropout=None`` likewise. ``RunConfig.recipe =
    "paper"`` replaces some fields by the model's own paper recipe (see bench.models.recipes).
    """

    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int | None = None
    early_stopping: int = 16
    """Patience in epochs on validation loss; 0 disables early stopping."""
    lr_decay: bool = True
    """ReduceLROnPlateau on validation loss."""
    lr_factor: float = 0.5
    lr_patience: int = 5
    restore_best: bool = True
    """Restore the weights of the best validation epoch; False evaluates the last epoch, as the 4D-CRNN
    authors did (no selection on validation data at all when early stopping and LR decay are off too)."""
    select_by: str = "loss"
    """What makes a validation epoch the best (kept by ``restore_best``, counted by early stopping):
    ``loss`` the lowest validation loss (the harness), ``acc`` the highest validation accuracy, ``f1``
    the highest macro-F1 (mean over the tasks; the first epoch reaching the maximum is kept, as the
    peer benchmarks' ``>`` comparisons do). The peer protocols set it to their own rule."""
    loss_weights: tuple[float, float] = (1.0, 1.0)
    """(w_valence, w_arousal): L = w_v * L_v + w_a * L_a."""
    balance: bool = True
    """Weight each task's loss by its training-set class frequencies (sklearn 'balanced')."""
    standardise: str = "train"
    """``"train"``: standardise every input element with mean/std of the training part; ``"none"``."""
    dropout: float | None = None
    batch_norm: bool = True
    precision: str = "auto"
    """``auto``: bf16 autocast where the hardware has native bf16 and the model's bf16 parity is shown
    (``ModelInfo.bf16_parity``, measured by scripts/bench_parity.py), fp32 elsewhere; resolved before the
    run key (bench.runs.identity). ``bf16``: bfloat16 autocast (CPU with AVX-512 BF16 or AMX, or CUDA)."""
    adam_eps: float | None = None
    """Adam epsilon; None takes the model's default (MT-CNN, 4D-CRNN: Keras' 1e-7), else torch's 1e-8."""
    finetune_lr_divisor: float | None = None
    """whole-set-finetune: fine-tune lr = lr / divisor (None: the authors' 8 multi-task, 4 single-task)."""
    stack: int = 0
    """Train up to this many units of the run at once, as a stacked ensemble in one process
    (bench.training.stacked; 0: one at a time). Equal to one at a time within float tolerance without dropout,
    statistically equivalent with it: part of the run key when set."""

    def __post_init__(self) -> None:
        # Checked here, where every config (CLI, file, recipe, tuner) is built: a bad value fails
        # before any data is read or any run is tracked, as one line naming the key.
        check_number("train.lr", self.lr, low=0, low_open=True)
        check_number("train.batch_size", self.batch_size, integer=True, low=1)
        check_number("train.max_epochs", self.max_epochs, integer=True, low=1, none_ok=True)
        check_number("train.early_stopping", self.early_stopping, integer=True, low=0)
        check_number("train.lr_patience", self.lr_patience, integer=True, low=0)
        check_number("train.lr_factor", self.lr_factor, low=0, high=1, low_open=True, high_open=True)
        for name in ("lr_decay", "restore_best", "balance", "batch_norm"):
            check_type(f"train.{name}", getattr(self, name), bool, "true or false")
        what = "two non-negative numbers (w_valence, w_arousal), not both 0"
        w = check_type("train.loss_weights", self.loss_weights, (list, tuple), what)
        if len(w) != 2 or not all(_is_weight(v) for v in w) or sum(w) <= 0:
            raise ConfigError(f"train.loss_weights={self.loss_weights!r}: expected {what}")
        object.__setattr__(self, "loss_weights", tuple(float(v) for v in w))
        check_option("train.standardise", self.standardise, STANDARDISE)
        check_number("train.dropout", self.dropout, low=0, high=1, high_open=True, none_ok=True)
        check_number("train.adam_eps", self.adam_eps, low=0, low_open=True, none_ok=True)
        check_number(
            "train.finetune_lr_divisor", self.finetune_lr_divisor, low=0, low_open=True, none_ok=True
        )
        check_option("train.precision", self.precision, PRECISIONS)
        check_option("train.select_by", self.select_by, SELECT_BY)
        check_number("train.stack", self.stack, integer=True, low=0)
        if self.stack and self.select_by != "loss":
            raise ConfigError(
                f"train.stack={self.stack}: stacked models select their epoch by validation loss only, "
                f"not train.select_by={self.select_by!r} (drop --stack)"
            )


def _is_weight(v: object) -> bool:
    try:
        check_number("weight", v, low=0)
    except ConfigError:
        return False
    return True


def labels_offered(ds) -> str:
    """The tasks a dataset offers, in words for an error: ``valence3, valence (derived)``."""
    return ", ".join([*ds.tasks, *(f"{d.task} (derived)" for d in ds.derived_tasks)])


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (plus where it runs, which does not enter the key)."""

    model: str = "mtcnn"
    protocol: str = "whole-set"
    split: str | None = None
    """None: the protocol's default (trial; subject for cross-subject)."""
    n_folds: int = 5
    val_fraction: float = 0.2
    seed: int = 0
    subjects: tuple[int, ...] | None = None
    tasks: tuple[str, ...] | None = None
    """The tasks a run trains and tests (:mod:`bench.core.tasks`); None: every task of the dataset's labels
    (DEAP and its kin: valence, arousal)."""
    features: tuple[str, ...] | None = None
    """Override the model's input features (:data:`bench.data.inputs.FEATURE_KINDS`; ablations: ("de",),
    ("psd",); more kinds: ("de", "psd", "dasm"))."""
    single_task: bool = False
    """Train a multi-task model as two single-task models (ablation)."""
    threshold: float | None = None
    """Ratings above it are "high"; None: the dataset's own (DEAP, AMIGOS, MAHNOB-HCI 5 on 1-9, DREAMER 3
    on 1-5), resolved before the run key (bench.runs.identity)."""
    high_if: str = "gt"
    audit: tuple[str, ...] = ()
    dataset: str = DEFAULT_DATASET
    """The registered dataset the run reads (bench.data.datasets); the training dataset of a cross-dataset
    run."""
    test_dataset: str | None = None
    """The dataset a ``cross-dataset`` run tests on (all of its subjects); None for every other protocol."""
    recipe: str = "harness"
    """Training recipe (RECIPES): ``"paper"`` applies the model's paper recipe in bench.runs.plan.prepare,
    and resolves back to ``"harness"`` when that recipe has no overrides (then it is the same run)."""
    method: str = "none"
    """A training method applied to the model (``--method``: bench.training.methods; ``none``: plain
    training). Its name is checked against the method registry in bench.runs.identity.resolve_config (the
    registry lives above this layer); here only its type."""
    model_options: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    feature_config: dict = field(default_factory=dict)
    device: str = "auto"
    num_threads: int | None = None
    log_model: bool = False
    """Save each unit's trained weights as an MLflow artifact (``bench run --log-model``); changes no number,
    so like ``device`` it is not part of the run key."""

    compile: bool = False
    """``torch.compile`` each unit's model (CUDA graphs on a GPU: for small, launch-bound models); the
    same computation with fused kernels (the float rounding may differ, as with another thread count), so it
    is not part of the run key either."""

    NON_KEY = ("device", "num_threads", "log_model", "compile")
    KEY_OMIT_IF_DEFAULT = {
        "recipe": "harness",
        "train.restore_best": True,
        "train.stack": 0,
        "dataset": DEFAULT_DATASET,
        "test_dataset": None,
        "method": "none",
    }
    """Fields added after runs were tracked: left out of the run key at their default value, so the
    run keys (and resume) of runs tracked before them stay the same."""

    def __post_init__(self) -> None:
        for name in ("model", "protocol", "method"):
            check_type(name, getattr(self, name), str, "a name")
        check_type("split", self.split, (str, None), "a split name or none")
        check_number("n_folds", self.n_folds, integer=True, low=2)
        check_number("val_fraction", self.val_fraction, low=0, high=1, low_open=True, high_open=True)
        check_number("seed", self.seed, integer=True, low=0)

        what = f"a list of {', '.join(FEATURE_KINDS)}"
        if check_type("features", self.features, (list, tuple, None), what) is not None:
            object.__setattr__(self, "features", tuple(self.features))
        check_type("single_task", self.single_task, bool, "true or false")
        check_number("threshold", self.threshold, none_ok=True)
        check_option("dataset", self.dataset, dataset_names())
        check_option("test_dataset", self.test_dataset, (None, *dataset_names()))
        check_option("high_if", self.high_if, ("gt", "ge"))
        self._check_tasks()
        for a in check_type("audit", self.audit, (list, tuple), f"a list of {', '.join(AUDITS)}"):
            check_option("audit", a, AUDITS)
        object.__setattr__(self, "audit", tuple(self.audit))
        check_option("recipe", self.recipe, RECIPES)
        check_type("model_options", self.model_options, dict, "a table of model options")
        check_type("feature_config", self.feature_config, dict, "a table of feature options")
        check_type("train", self.train, TrainConfig, "a table of train options")
        check_option("device", self.device, DEVICES)
        check_number("num_threads", self.num_threads, integer=True, low=1, none_ok=True)
        check_type("log_model", self.log_model, bool, "true or false")
        check_type("compile", self.compile, bool, "true or false")
        if self.subjects is not None:
            n = get_dataset(self.dataset).n_subjects  # numbered 1-32 in DEAP, 1-23 in DREAMER, ...
            what = f"a list of subject numbers 1-{n}"
            for s in check_type("subjects", self.subjects, (list, tuple), what):
                check_number("subjects", s, integer=True, low=1, high=n)
            object.__setattr__(self, "subjects", tuple(sorted(int(s) for s in self.subjects)))

    def _check_tasks(self) -> None:
        """``tasks``: None is the dataset's own tasks (a cross-dataset run's: those both datasets offer); a
        selection must be tasks the dataset offers (and a cross-dataset run's test dataset); stored in
        canonical order, so equal selections give equal run keys. A task a dataset derives by leaving
        some of its trials out (SEED's binary valence: no neutral clips) is run alone."""
        train = get_dataset(self.dataset)
        offered = train.offered_tasks
        default = train.tasks
        datasets = (train,)
        if self.test_dataset is not None:
            test = get_dataset(self.test_dataset)
            datasets = (train, test)
            offered = pair_tasks(train.name, test.name)
            if not offered:
                raise ConfigError(
                    f"test_dataset={test.name!r}: {train.title}'s labels ({labels_offered(train)}) and "
                    f"{test.title}'s ({labels_offered(test)}) share no task, and none is derived from the "
                    "other's; a cross-dataset run needs one"
                )
            default = tuple(t for t in train.tasks if t in test.tasks) or offered  # own labels first
        chosen = default if self.tasks is None else self.tasks
        if self.tasks is not None:
            check_type("tasks", self.tasks, (list, tuple), f"a non-empty list of {', '.join(offered)}")
        chosen = check_tasks(chosen, offered)
        for ds in datasets:
            derived = [d for d in map(ds.derivation, chosen) if d is not None and d.dropped]
            if derived and len(chosen) > 1:
                d = derived[0]
                raise ConfigError(
                    f"tasks={list(chosen)!r}: {ds.title}'s {d.task} is read from {d.source} with its "
                    f"{', '.join(d.dropped)} trials left out; run it alone (tasks=[{d.task!r}])"
                )
        object.__setattr__(self, "tasks", chosen)

    def to_dict(self) -> dict:
        """Every field; ``method`` only where one is set and ``train.select_by`` only where it is not the
        harness's ``loss`` (the params of every plain run stay those of the runs tracked before them)."""
        d = asdict(self)
        d["train"] = asdict(self.train)
        if d["method"] == "none":
            del d["method"]
        if d["train"]["select_by"] == "loss":
            del d["train"]["select_by"]
        return d

    def key_dict(self) -> dict:
        """The part of the config that determines the numbers."""
        d = self.to_dict()
        for k in self.NON_KEY:
            d.pop(k)
        if d["threshold"] is None and self.test_dataset is None:  # the dataset's own: same run as naming it
            d["threshold"] = get_dataset(self.dataset).threshold
        for path, default in self.KEY_OMIT_IF_DEFAULT.items():
            section, _, name = path.rpartition(".")
            holder = d[section] if section else d
            if holder.get(name) == default:
                del holder[name]
        return d

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.key_dict(), sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """A config from a table of options (a config file's, say); anything but a table of known
        options is one ConfigError line."""
        d = dict(check_type("d", d, dict, "a dict of run options (a config file's top-level table)"))
        train = d.pop("train", {}) or {}
        check_type("train", train, (dict, TrainConfig), "a table of train options")
        if isinstance(train, dict):
            unknown = set(train) - {f.name for f in fields(TrainConfig)}
            if unknown:
                raise ConfigError(f"unknown train option(s): {', '.join(sorted(unknown))}")
            train = TrainConfig(**train)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown run option(s): {', '.join(sorted(unknown))}")
        for k in ("subjects", "tasks", "features", "audit"):
            if d.get(k) is not None:
                d[k] = tuple(check_type(k, d[k], (list, tuple), "a list"))
        return cls(train=train, **d)

    def with_train(self, **changes) -> RunConfig:
        return replace(self, train=replace(self.train, **changes))


QUICK_EPOCHS = 1
"""Epoch cap when the embedded synthetic default runs without --epochs. On that data MT-CNN's best
validation epoch is 1 or 2 (measured with --epochs 3: 1 in 3 of 5 folds, 2 in the others; test accuracy
+0.2/+0.6 points for 3x the time), so one epoch keeps the README command near 2 minutes."""
