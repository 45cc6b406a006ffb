"""pytest collection settings for the doctests of the package."""

import importlib.util

# skl_sparse_ae/onnx.py imports skl2onnx (the 'onnx' extra) at the top; without
# it there is nothing of that module to collect. tests/test_onnx.py skips
# with the reason.
collect_ignore = [] if importlib.util.find_spec("skl2onnx") else ["skl_sparse_ae/onnx.py"]
