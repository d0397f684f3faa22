"""The built-in grids of ``bench reproduce --preset NAME``, as TOML text.

Each is parsed like a grid file (:mod:`bench.runs.grid`), so each is also an example of the format. The
paper's grid (``rudakov2021``), its future work (``future-work``) and the subject-independent training
methods (``subject-independent``) run on the rating datasets (DEAP by default, any of them with
``--dataset``); each categorical dataset has one of its own, the comparison its
papers make under its published protocols beside the harness's honest ones; ``peer-protocols`` runs the
peer benchmarks' protocols (:mod:`protocols.peers`) beside their honest counterparts, on any dataset.

The categorical datasets' grids hold every model: the brain-map models, the time-domain models (which
read each clip's band-limited EEG resampled to 128 Hz, :mod:`bench.data.signal`) and the trivial
baselines.
"""

BRAIN_MAP_MODELS = ["mtcnn", "4dcrnn", "fbccnn", "mccnn", "saelstm", "dgcnn", "rgnn", "majority", "prior"]
"""The brain-map and per-channel feature models (the graph models DGCNN and RGNN read the same band
features per electrode), then the trivial baselines (the paper's grid's models)."""

TIME_DOMAIN_MODELS = ["eegnet", "shallowconvnet", "deepconvnet", "tsception"]
"""The time-domain models, which read the band-limited EEG signal."""

CATEGORICAL_MODELS = BRAIN_MAP_MODELS[:-2] + TIME_DOMAIN_MODELS + BRAIN_MAP_MODELS[-2:]
"""The models of the categorical datasets' grids: every brain-map model, every time-domain model, then the
trivial baselines."""


def _session_grid(name: str, dataset: str, title: str, split: str) -> str:
    """The grid of a SEED-family dataset: its published per-session trial split, cross-session and
    leave-one-subject-out within a session, each with every brain-map and time-domain model and the
    baselines."""
    models = ", ".join(f'"{m}"' for m in CATEGORICAL_MODELS)
    return f"""\
# {title}'s standard comparison: every brain-map model, every time-domain model and the trivial
# baselines under the protocols its papers use.
# session-trials is its published split ({split});
# cross-session trains on sessions 1-2 and tests on 3; loso-session leaves one subject out within each
# session.
name = "{name}"

[data]
dataset = "{dataset}"

[[runs]]
models = [{models}]
protocols = ["session-trials", "cross-session", "loso-session"]
"""


BUILT_IN_GRIDS: dict[str, str] = {
    "rudakov2021": """\
# Everything the tables of Rudakov et al. 2021 (MT-CNN) need, and the paper's future work.
name = "rudakov2021"

# comparison table, protocols table (A): every brain-map model under both of the paper's protocols,
# leak-free (the time-domain models and the fusion variant have a grid of their own: future-work)
[[runs]]
models = ["mtcnn", "4dcrnn", "fbccnn", "mccnn", "saelstm", "dgcnn", "rgnn", "majority", "prior"]
protocols = ["subject-specific", "whole-set"]
splits = ["trial"]

# protocols table (B) and leakage table: the papers' segment split (leaky), and with the
# authors' selection on the test fold (audit only)
[[runs]]
models = ["mtcnn", "4dcrnn"]
protocols = ["subject-specific", "whole-set"]
splits = ["segment"]
audits = ["none", "select-on-test"]

# ablation table: the paper's one-at-a-time switches of MT-CNN
[[runs]]
models = ["mtcnn"]
protocols = ["whole-set"]
splits = ["trial"]
variants = "all"

# the paper's future work: test subjects never seen in training
[[runs]]
models = ["mtcnn", "4dcrnn", "fbccnn", "mccnn", "saelstm", "dgcnn", "rgnn", "majority", "prior"]
protocols = ["cross-subject"]
""",
    "future-work": """\
# The paper's future work beyond its tables: time-domain models beside MT-CNN, DEAP's peripheral
# signals fused into MT-CNN, and new brain-map feature kinds (asymmetry, Hjorth).
name = "future-work"

# comparison table: the time-domain models on the band-limited signal, MT-CNN on its brain maps
[[runs]]
models = ["mtcnn", "eegnet", "shallowconvnet", "deepconvnet", "tsception", "majority"]
protocols = ["subject-specific", "whole-set"]
splits = ["trial"]

# ablation table: MT-CNN with its peripheral-signal fusion and with more brain-map kinds
[[runs]]
models = ["mtcnn"]
protocols = ["whole-set"]
splits = ["trial"]
variants = ["full", "peripheral", "plus-dasm", "plus-hjorth"]
""",
    "subject-independent": """\
# Subject-independent training (issue 30): does a training method help a model on subjects it never
# saw? Every model is run plain and with each method that fits it, under cross-subject folds (whole
# subjects held out), so that `bench table methods` can set each method run against the same model's
# plain run on the same folds (one-sided Wilcoxon over the test subjects, Holm).
# - brain-map and graph models: subject-norm (per-subject standardisation of the inputs), dann
#   (a domain-adversarial subject discriminator on the model's feature trunk) and ms-mda (one branch per
#   training subject on the trunk, aligned to the test subject by MMD);
# - time-domain models: ea (Euclidean alignment of each subject's EEG signal) and dann;
# - the majority and prior baselines (plain only): the floor a method must clear.
# Every method here is transductive: it sees the test subjects' unlabelled inputs, never their labels.
name = "subject-independent"

[[runs]]
models = ["fbccnn", "mtcnn", "dgcnn", "rgnn"]
protocols = ["cross-subject"]
methods = ["none", "subject-norm", "dann", "ms-mda"]

[[runs]]
models = ["eegnet", "shallowconvnet"]
protocols = ["cross-subject"]
methods = ["none", "ea", "dann"]

[[runs]]
models = ["majority", "prior"]
protocols = ["cross-subject"]
""",
    "peer-protocols": """\
# The peer benchmarks' protocols beside the harness's honest counterparts, for `bench table
# protocols-audit` (each peer protocol follows one benchmark's public code: protocols.peers). On DEAP:
# LibEER's 10-fold (selection on test) and 24/8/8 settings, TorchEEG's KFoldGroupbyTrial (segment leak),
# EEGain's leave-one-trial-out; with --dataset seed: LibEER's front/back (selection on test),
# TorchEEG's, EEG-FM-Bench's one test subject and AdaBrain-Bench's window-level validation. A protocol
# the benchmark did not use on the dataset is skipped with the reason, and so is a counterpart that
# cannot run on it.
name = "peer-protocols"

# the peers' protocols (their runs appear in the protocol audit table only)
[[runs]]
models = ["mtcnn", "dgcnn", "majority"]
protocols = ["libeer-deap-kfold", "libeer-deap-random", "torcheeg-kfold", "eegain-loto",
             "libeer-front-back", "eegfm-one-subject", "adabrain-random-valid", "adabrain-subject-valid"]

# their honest counterparts: the harness's own protocols
[[runs]]
models = ["mtcnn", "dgcnn", "majority"]
protocols = ["subject-specific", "whole-set", "session-trials", "cross-subject"]
""",
}
"""Built-in grids as TOML text: parsed like a file, so each is also an example of the format."""

BUILT_IN_GRIDS["seed"] = _session_grid(
    "seed", "seed", "SEED", "first 9 clips of each session train, last 6 test"
)
BUILT_IN_GRIDS["seed-iv"] = _session_grid(
    "seed-iv", "seed-iv", "SEED-IV", "first 16 clips of each session train, last 8 test"
)
BUILT_IN_GRIDS["seed-v"] = _session_grid(
    "seed-v", "seed-v", "SEED-V", "5 clips train, 5 validate, 5 test in each session"
)
BUILT_IN_GRIDS["faced"] = f"""\
# FACED's standard comparison: every brain-map model, every time-domain model and the trivial baselines
# on its nine emotion categories and its clip valence, under its published subject split (80 / 20 / 23 of
# 123 subjects, in number order) and leave-subjects-out folds.
name = "faced"

[data]
dataset = "faced"

[[runs]]
models = [{", ".join(f'"{m}"' for m in CATEGORICAL_MODELS)}]
protocols = ["subject-holdout", "cross-subject"]
"""
