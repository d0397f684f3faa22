"""MT-CNN, the seed model (Rudakov et al., BioSMART 2021). Importing this package registers ``mtcnn``."""

from mtcnn.model import MTCNN, SameConv2d, keras_init_, same_padding

__all__ = ["MTCNN", "SameConv2d", "keras_init_", "same_padding"]
