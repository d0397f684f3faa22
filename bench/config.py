"""One typed configuration for a benchmark run, resolved once, hashed, and logged whole."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from bench.errors import ConfigError

PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
STANDARDISE = ("train", "none")
AUDITS = ("select-on-test",)
RECIPES = ("harness", "paper")
"""``harness``: one training recipe for every model (TrainConfig's defaults); ``paper``: the model's own
training set-up where its paper gives one (the registry's ``paper_recipe``, applied by bench.recipes)."""


@dataclass(frozen=True)
class TrainConfig:
    """How one model is fitted. Defaults are the harness recipe, applied to every model: the MT-CNN
    authors' set-up (Rudakov et al. 2021) with a validation part carved out of the training data.

    ``max_epochs=None`` takes the model's own default; ``dropout=None`` likewise. ``RunConfig.recipe =
    "paper"`` replaces some fields by the model's own paper recipe (see bench.recipes).
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
    loss_weights: tuple[float, float] = (1.0, 1.0)
    """(w_valence, w_arousal): L = w_v * L_v + w_a * L_a."""
    balance: bool = True
    """Weight each task's loss by its training-set class frequencies (sklearn 'balanced')."""
    standardise: str = "train"
    """``"train"``: standardise every input element with mean/std of the training part; ``"none"``."""
    dropout: float | None = None
    batch_norm: bool = True
    precision: str = "fp32"
    """``"bf16"``: bfloat16 autocast (CPU with AMX, or CUDA); parity: scripts/bench_training.py."""
    adam_eps: float | None = None
    """Adam epsilon; None takes the model's default (MT-CNN, 4D-CRNN: Keras' 1e-7), else torch's 1e-8."""
    finetune_lr_divisor: float | None = None
    """whole-set-finetune: fine-tune lr = lr / divisor (None: the authors' 8 multi-task, 4 single-task)."""

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r} must be > 0")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size={self.batch_size!r} must be >= 1")
        if self.max_epochs is not None and int(self.max_epochs) < 1:
            raise ConfigError(f"max_epochs={self.max_epochs!r} must be >= 1")
        if self.early_stopping < 0 or self.lr_patience < 0:
            raise ConfigError("early_stopping and lr_patience must be >= 0")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"lr_factor={self.lr_factor!r} must be in (0, 1)")
        w = tuple(float(v) for v in self.loss_weights)
        if len(w) != 2 or min(w) < 0 or sum(w) <= 0:
            raise ConfigError(
                f"loss_weights={self.loss_weights!r} must be two non-negative numbers, not both 0"
            )
        object.__setattr__(self, "loss_weights", w)
        if self.standardise not in STANDARDISE:
            raise ConfigError(
                f"standardise={self.standardise!r} is not allowed; allowed: {', '.join(STANDARDISE)}"
            )
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout={self.dropout!r} must be in [0, 1)")
        if self.adam_eps is not None and not self.adam_eps > 0:
            raise ConfigError(f"adam_eps={self.adam_eps!r} must be > 0")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision={self.precision!r} is not allowed; allowed: {', '.join(PRECISIONS)}"
            )


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
    tasks: tuple[str, ...] = ("valence", "arousal")
    features: tuple[str, ...] | None = None
    """Override the model's input features (ablation: ("de",) or ("psd",))."""
    single_task: bool = False
    """Train a multi-task model as two single-task models (ablation)."""
    threshold: float = 5.0
    high_if: str = "gt"
    audit: tuple[str, ...] = ()
    recipe: str = "harness"
    """Training recipe (RECIPES): ``"paper"`` applies the model's paper recipe in bench.runner.prepare,
    and resolves back to ``"harness"`` when that recipe has no overrides (then it is the same run)."""
    model_options: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    feature_config: dict = field(default_factory=dict)
    device: str = "auto"
    num_threads: int | None = None

    NON_KEY = ("device", "num_threads")
    KEY_OMIT_IF_DEFAULT = {"recipe": "harness", "train.restore_best": True}
    """Fields added after runs were tracked: left out of the run key at their default value, so the
    run keys (and resume) of runs tracked before them stay the same."""

    def __post_init__(self) -> None:
        if int(self.n_folds) < 2:
            raise ConfigError(f"n_folds={self.n_folds!r} must be >= 2")
        if not self.tasks or any(t not in ("valence", "arousal") for t in self.tasks):
            raise ConfigError(f"tasks={self.tasks!r} must be a non-empty subset of valence, arousal")
        object.__setattr__(self, "tasks", tuple(t for t in ("valence", "arousal") if t in self.tasks))
        if self.high_if not in ("gt", "ge"):
            raise ConfigError(f"high_if={self.high_if!r} is not allowed; allowed: gt, ge")
        bad = [a for a in self.audit if a not in AUDITS]
        if bad:
            raise ConfigError(f"audit {bad[0]!r} is not known; allowed: {', '.join(AUDITS)}")
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe={self.recipe!r} is not allowed; allowed: {', '.join(RECIPES)}")
        if self.device not in DEVICES:
            raise ConfigError(f"device={self.device!r} is not allowed; allowed: {', '.join(DEVICES)}")
        if self.subjects is not None:
            object.__setattr__(self, "subjects", tuple(sorted(int(s) for s in self.subjects)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"] = asdict(self.train)
        return d

    def key_dict(self) -> dict:
        """The part of the config that determines the numbers."""
        d = self.to_dict()
        for k in self.NON_KEY:
            d.pop(k)
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
        d = dict(d)
        train = d.pop("train", {}) or {}
        if isinstance(train, dict):
            unknown = set(train) - {f.name for f in fields(TrainConfig)}
            if unknown:
                raise ConfigError(f"unknown train option(s): {', '.join(sorted(unknown))}")
            if "loss_weights" in train:
                train["loss_weights"] = tuple(train["loss_weights"])
            train = TrainConfig(**train)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown run option(s): {', '.join(sorted(unknown))}")
        for k in ("subjects", "tasks", "features", "audit"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(train=train, **d)

    def with_train(self, **changes) -> RunConfig:
        return replace(self, train=replace(self.train, **changes))
