"""MT-CNN, the seed model (Rudakov et al., BioSMART 2021). Importing this package registers ``mtcnn``
(the first entry point of group ``deap_bench.models``)."""

from mtcnn.model import MTCNN

__all__ = ["MTCNN"]
