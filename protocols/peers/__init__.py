"""The peer benchmarks' protocols, reproduced from their public code so their numbers can be audited.

Each protocol here follows one benchmark's published split and model-selection rule, as read in its
code (the class docstring cites the files and lines, and the date read); :attr:`PeerProtocol.counterpart`
names the harness's honest protocol on the same data, and :attr:`~protocols.base.Protocol.mechanisms` what
in the published protocol can make its score look better than it is. Their runs appear in one table only,
``bench table protocols-audit``, beside the counterpart's (:attr:`~protocols.base.Protocol.audit_only`),
and the leaky ones (a segment leak, selection on the test part) are tagged leaky like any leaky run.

What is reproduced is the protocol: which samples train, validate and test, and which epoch's weights are
tested. The features (the harness's windows), the models and their optimisers stay the harness's, so the
audit compares protocols on one model, not the benchmarks' models.

* ``libeer-front-back``: LibEER's SEED "front 9 / back 6" setting: per subject and session (sessions 1 and
  2), trials 1-9 train, the rest test, *the test trials as validation*, the best epoch by their accuracy.
* ``libeer-deap-kfold``: LibEER's DEAP 10-fold setting: per subject, 10 unshuffled folds of trials, no
  validation part, so again the test fold picks the epoch.
* ``libeer-deap-random``: LibEER's DEAP train/val/test setting: per subject one stratified random split of
  the trials 60/20/20 (24/8/8), the epoch by validation macro-F1 (a reference row).
* ``torcheeg-kfold``: TorchEEG's ``KFoldGroupbyTrial`` of its tutorials: the windows of *every trial* cut
  into k folds, pooled over subjects; validation off and the last epoch tested.
* ``eegfm-one-subject``: EEG-FM-Bench's SEED family split: one test and one validation subject (two each
  on SEED-V) drawn once with seed 42 whatever the training seed; the last epoch.
* ``adabrain-random-valid``: AdaBrain-Bench's cross-subject SEED split: the last two subject folders
  test, a random 20 % of every training subject's windows validate; the epoch by validation accuracy.
* ``adabrain-subject-valid``: the same test subjects and selection with whole training subjects as the
  validation part: the honest counterpart that isolates AdaBrain's window-level validation.
* ``eegain-loto``: EEGain's leave-one-trial-out: per subject each trial tests once; a class-stratified
  random 80/20 of the training windows validates; the epoch by validation accuracy (a reference row).
"""

from __future__ import annotations

from protocols.base import Protocol
from protocols.peers.adabrain import ADABRAIN_RANDOM_VALID, ADABRAIN_SUBJECT_VALID
from protocols.peers.base import PeerProtocol, PeerSource, window_validation
from protocols.peers.eegain import EEGAIN_LOTO
from protocols.peers.eegfm import EEGFM_ONE_SUBJECT
from protocols.peers.libeer import (
    LIBEER_DEAP_KFOLD,
    LIBEER_DEAP_RANDOM,
    LIBEER_FRONT_BACK,
    libeer_stratified_split,
)
from protocols.peers.torcheeg import TORCHEEG_KFOLD

PEER_PROTOCOLS: tuple[Protocol, ...] = (
    LIBEER_FRONT_BACK, LIBEER_DEAP_KFOLD, LIBEER_DEAP_RANDOM, TORCHEEG_KFOLD, EEGFM_ONE_SUBJECT,
    ADABRAIN_RANDOM_VALID, ADABRAIN_SUBJECT_VALID, EEGAIN_LOTO,
)  # fmt: skip
"""The peer protocols and their own counterparts, in the audit table's order."""

__all__ = ["PEER_PROTOCOLS", "PeerProtocol", "PeerSource", "libeer_stratified_split", "window_validation"]
