"""ONNX export: skl2onnx converters for the project's estimators.

Importing this module registers them with skl2onnx (the ``onnx`` extra:
``pip install "skl-sparse-ae[onnx]"``), so that :func:`skl2onnx.to_onnx`
converts any Pipeline that contains a :class:`~skl_sparse_ae.SparseAutoencoder`,
a :class:`~skl_sparse_ae.ZCAWhitening` or a
:class:`~skl_sparse_ae.StackedAutoencoderClassifier`, next to scikit-learn's
own steps::

    import skl_sparse_ae.onnx  # noqa: F401  (registers the converters)
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype(np.float32))

The graphs compute ``transform`` in the dtype of the sample input given to
``to_onnx`` (float32 or float64), with the fitted weights cast to it:

- ``SparseAutoencoder``: ``Sigmoid(MatMul(X, components_ᵀ) + intercept_hidden_)``
  (``Relu`` for ``activation="relu"``), the hidden activations A2 (the decoder
  is not part of ``transform``); k-sparse codes raise ``NotImplementedError``;
- ``ZCAWhitening``: ``MatMul(X − mean_, whitening_)``;
- ``StackedAutoencoderClassifier``: its network, through the exact
  ``MLPClassifier`` of :meth:`~skl_sparse_ae.StackedAutoencoderClassifier.to_mlp_classifier`
  and skl2onnx's converter for it (labels and probabilities).
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np

try:
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxMatMul, OnnxRelu, OnnxSigmoid, OnnxSub
    from skl2onnx.common.data_types import guess_numpy_type
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    from skl2onnx.common.utils import check_input_and_output_numbers
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
    )
except ImportError as exc:
    raise ImportError(
        "ONNX export needs skl2onnx. Install it with pip install 'skl-sparse-ae[onnx]'."
    ) from exc

from ._autoencoder import SparseAutoencoder
from ._classifier import StackedAutoencoderClassifier
from ._whitening import ZCAWhitening

__all__ = ["register_converters"]


def _one_to_n_columns(n_columns):
    """A shape calculator: one input of shape (N, ·) → one output (N, n_columns)."""

    def calculate(operator):
        check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
        rows = operator.inputs[0].get_first_dimension()
        input_type = operator.inputs[0].type.__class__
        operator.outputs[0].type = input_type([rows, n_columns(operator.raw_operator)])

    return calculate


def _convert_sparse_autoencoder(scope, operator, container):
    model = operator.raw_operator
    kept = model._transform_k()
    if kept is not None and kept < model.components_.shape[0]:
        # Dense codes would be silently wrong: transform keeps the k largest.
        raise NotImplementedError(
            "Exporting k-sparse codes (k or transform_k below n_components) to ONNX is "
            "not supported yet."
        )
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    opset = container.target_opset
    encoder = np.ascontiguousarray(model.components_.T, dtype=dtype)
    bias = model.intercept_hidden_.astype(dtype)
    pre_activation = OnnxAdd(OnnxMatMul(X, encoder, op_version=opset), bias, op_version=opset)
    activation = OnnxRelu if model.activation == "relu" else OnnxSigmoid
    codes = activation(pre_activation, op_version=opset, output_names=operator.outputs[:1])
    codes.add_to(scope, container)


def _convert_zca_whitening(scope, operator, container):
    model = operator.raw_operator
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    opset = container.target_opset
    centred = OnnxSub(X, model.mean_.astype(dtype), op_version=opset)
    whitened = OnnxMatMul(
        centred,
        model.whitening_.astype(dtype),
        op_version=opset,
        output_names=operator.outputs[:1],
    )
    whitened.add_to(scope, container)


def _convert_stacked_classifier(scope, operator, container):
    # The fitted network is exactly an MLPClassifier (to_mlp_classifier):
    # skl2onnx's own converter writes its graph, labels and probabilities.
    operator.raw_operator = operator.raw_operator.to_mlp_classifier()
    convert_sklearn_mlp_classifier(scope, operator, container)


def register_converters():
    """Register the converters with skl2onnx (done on import; idempotent)."""
    update_registered_converter(
        SparseAutoencoder,
        "SklSparseAeSparseAutoencoder",
        _one_to_n_columns(lambda model: model.n_components),
        _convert_sparse_autoencoder,
    )
    update_registered_converter(
        ZCAWhitening,
        "SklSparseAeZCAWhitening",
        _one_to_n_columns(lambda model: model.n_features_in_),
        _convert_zca_whitening,
    )
    update_registered_converter(
        StackedAutoencoderClassifier,
        "SklSparseAeStackedAutoencoderClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_stacked_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )


register_converters()
