"""The flat parameter vector θ of a sparse autoencoder: its layout, the variants, the UFLDL start.

The parameters travel as one flat vector ``theta`` (float64, what
:func:`scipy.optimize.minimize` works on; on another namespace, an array of
its device) laid out as ``[W1 (h, n), W2ᵀ (h, n), b1 (h,), b2 (n,)]``, or
``[W1, b1, b2]`` with tied weights.
"""

# SPDX-License-Identifier: BSD-3-Clause

from dataclasses import dataclass

import numpy as np

from ._array_api import space_of


@dataclass(frozen=True)
class Params:
    """Views of the four parameter blocks in the dtype of the computation."""

    W1: np.ndarray  # (h, n) encoder weights
    W2T: np.ndarray  # (h, n) decoder weights, transposed
    b1: np.ndarray  # (h,)
    b2: np.ndarray  # (n,)

    def copy(self):
        """Own, contiguous copies of the blocks (so they outlive ``theta``)."""
        if space_of(self.W1).is_numpy:
            return Params(*(np.array(block, copy=True) for block in vars(self).values()))
        xp = space_of(self.W1).xp
        return Params(*(xp.asarray(block, copy=True) for block in vars(self).values()))


@dataclass(frozen=True)
class Variant:
    """What the model computes beyond the UFLDL sparse autoencoder (the defaults).

    - ``penalty``: the sparsity term, "kl" (β Σⱼ KL(ρ ‖ ρ̂ⱼ)) or "l1"
      (β Σⱼ ρ̂ⱼ = (β/m) Σ |A2|, the activations being positive; ρ is unused);
    - ``k``: k-sparse codes: in each row only the k largest hidden activations
      are kept and the others set to 0, in the forward pass and so in the
      gradient, which flows through the kept units only;
    - ``tied``: W2ᵀ = W1; the flat vector then holds W1, b1, b2 only;
    - ``activation``: the hidden units', "sigmoid" (the logistic function,
      UFLDL's) or "relu" (max(z, 0), with the L1 penalty, k-sparse codes or
      no sparsity term: the KL penalty needs a mean activation in (0, 1)).
    """

    penalty: str = "kl"
    k: int | None = None
    tied: bool = False
    activation: str = "sigmoid"


UFLDL = Variant()


def n_params(n_features, n_components, tied=False):
    """Length of the flat parameter vector."""
    return (1 if tied else 2) * n_components * n_features + n_components + n_features


def _flat(blocks, space):
    """The blocks one after the other in one vector of ``space.sum_dtype``."""
    xp = space.xp
    flat = xp.concat([xp.reshape(block, (-1,)) for block in blocks])
    return xp.astype(flat, space.sum_dtype, copy=False)


def pack(params, tied=False):
    """Flatten parameter blocks into one vector of the sums' dtype (float64
    where the device has it; ``tied``: without W2ᵀ)."""
    blocks = [params.W1, params.b1, params.b2] if tied else vars(params).values()
    return _flat(blocks, space_of(params.W1))


def unpack(theta, n_features, n_components, dtype=np.float64, tied=False):
    """Split a flat vector into :class:`Params` of ``dtype``.

    Views of ``theta`` when the dtype matches; one cast otherwise. ``tied``:
    the vector holds W1, b1, b2, and W2ᵀ is W1 (the same array).
    """
    xp = space_of(theta).xp
    theta = xp.astype(xp.asarray(theta), dtype, copy=False)
    h, n = n_components, n_features
    hn = h * n
    W1 = xp.reshape(theta[:hn], (h, n))
    W2T, rest = (W1, hn) if tied else (xp.reshape(theta[hn : 2 * hn], (h, n)), 2 * hn)
    return Params(W1=W1, W2T=W2T, b1=theta[rest : rest + h], b2=theta[rest + h :])


def fold_tied(g, space):
    """The gradient in the tied layout from the gradient blocks ``g`` in the
    untied one: W1 serves as both W1 and W2ᵀ, so their gradients add up."""
    return _flat([g.W1 + g.W2T, g.b1, g.b2], space)


def initial_params(n_features, n_components, random_state, dtype=np.float64):
    """UFLDL initialisation: weights ~ U(-r, r), r = √6 / √(n + h + 1), biases 0."""
    r = np.sqrt(6.0) / np.sqrt(n_features + n_components + 1)
    W1 = random_state.uniform(-r, r, size=(n_components, n_features))
    W2T = random_state.uniform(-r, r, size=(n_components, n_features))
    return Params(
        W1=W1.astype(dtype),
        W2T=W2T.astype(dtype),
        b1=np.zeros(n_components, dtype=dtype),
        b2=np.zeros(n_features, dtype=dtype),
    )
