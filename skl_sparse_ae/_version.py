"""The package's version, at the bottom of the layers: what everything may import."""

# SPDX-License-Identifier: BSD-3-Clause

__version__ = "0.1.0.dev0"
