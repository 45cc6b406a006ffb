"""skl-sparse-ae: the UFLDL sparse autoencoder and ZCA whitening for scikit-learn."""

# SPDX-License-Identifier: BSD-3-Clause

from ._autoencoder import SparseAutoencoder
from ._classifier import StackedAutoencoderClassifier
from ._version import __version__
from ._whitening import ZCAWhitening

__all__ = ["SparseAutoencoder", "StackedAutoencoderClassifier", "ZCAWhitening", "__version__"]
