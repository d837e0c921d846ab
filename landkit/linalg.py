"""Linear algebra over trajectories too large to hold: Gram matrices and projections streamed over a
store's chunks (the glassy lens's two-time displacements, a landscape's PCA plane).

Example
-------
>>> W = np.random.default_rng(0).standard_normal((6, 50)).astype(np.float32)
>>> G, _ = lk.linalg.displacement_gram(W, W[0].astype(np.float64))
>>> D = W.astype(np.float64) - W[0]
>>> bool(np.allclose(G, D @ D.T))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["displacement_gram", "joint_gram", "project_displacements"]


def displacement_gram(W, w0, max_memory: float = 2**30, tick=None):
    """Gram matrix of the displacements d_i = w_i − w0 (float64), and w0·d_i.

    When the float32 weights fit in ``max_memory`` they are read from the store once and multiplied in
    float64 column blocks of 65,536 (cache-sized); otherwise each column block is read from the store
    in its own pass."""
    T, P = W.shape
    chunks = getattr(W, "iter_chunks", None)
    if T * P * 4 + T * 65536 * 8 <= max_memory:
        if chunks is not None:
            full = np.empty((T, P), dtype=np.float32)
            for start, rows in W.iter_chunks():
                full[start : start + len(rows)] = rows
            W, chunks = full, None
        block = 65536
    else:
        block = int(max(1, min(P, max_memory // (8 * max(T, 1)))))
    G = np.zeros((T, T))
    w0d = np.zeros(T)
    for c0 in range(0, P, block):
        c1 = min(P, c0 + block)
        D = np.empty((T, c1 - c0))
        if chunks is not None:
            for start, rows in W.iter_chunks():
                D[start : start + len(rows)] = np.asarray(rows)[:, c0:c1]
        else:
            D[:] = W[:, c0:c1]
        base = np.asarray(w0[c0:c1], dtype=np.float64)
        D -= base
        G += D @ D.T
        w0d += D @ base
        if tick is not None:
            tick((c1 - c0) / P)
    return G, w0d


def project_displacements(W, w0, coefficients) -> np.ndarray:
    """Σ_t c[t, k] · (w_t − w0) for each column k of ``coefficients`` (T, K): K vectors of length P,
    float64, read one storage chunk of rows at a time.

    Example
    -------
    >>> W = np.arange(12.0).reshape(3, 4)
    >>> lk.linalg.project_displacements(W, W[0], np.array([[0.0], [1.0], [1.0]]))[:, 0]
    array([12., 12., 12., 12.])
    """
    c = np.asarray(coefficients, dtype=np.float64)
    out = np.zeros((W.shape[1], c.shape[1]))
    base = np.asarray(w0, dtype=np.float64)
    chunks = getattr(W, "iter_chunks", None)
    blocks = chunks() if chunks is not None else [(0, W)]
    for start, rows in blocks:
        d = np.asarray(rows, dtype=np.float64) - base
        out += d.T @ c[start : start + len(d)]
    return out


def joint_gram(sources, rows, w0, max_memory: float = 2**30, columns=None, tick=None) -> np.ndarray:
    """Gram matrix of the displacements from ``w0`` of the selected ``rows`` (a list of index arrays,
    one per source) of several runs together, float64, reading one storage chunk at a time and one
    block of columns per pass: memory ≈ N × block, not N × P. ``columns`` (an index array) restricts
    the observables (``w0`` then has ``len(columns)`` entries); ``tick(fraction)`` is called with the
    fraction done so far after each source of each pass.

    Example
    -------
    >>> A, B = np.arange(12.0).reshape(3, 4), np.ones((2, 4))
    >>> G = lk.linalg.joint_gram([A, B], [np.arange(3), np.arange(2)], np.zeros(4))
    >>> bool(np.allclose(G, np.vstack([A, B]) @ np.vstack([A, B]).T))
    True
    """
    P = sources[0].shape[1] if columns is None else len(columns)
    N = sum(len(r) for r in rows)
    # the column block is held in the stores' own precision (float32 for recorded runs) and
    # converted to float64 piece by piece: as few passes over the stores as max_memory allows
    dtype = np.result_type(*[getattr(W, "dtype", np.float64) for W in sources], np.float32)
    sub = int(max(1, min(65536, max_memory // (32 * max(N, 1)))))
    block = int(max(sub, min(P, (max_memory - 16 * N * sub) // (dtype.itemsize * max(N, 1)))))
    G = np.zeros((N, N))
    for c0 in range(0, P, block):
        c1 = min(P, c0 + block)
        cols = slice(c0, c1) if columns is None else np.asarray(columns)[c0:c1]
        D = np.empty((N, c1 - c0), dtype=dtype)
        at = 0
        for r, (W, idx) in enumerate(zip(sources, rows)):
            chunks = getattr(W, "iter_chunks", None)
            blocks = chunks() if chunks is not None else [(0, W)]
            want = np.asarray(idx)
            for start, part in blocks:
                hit = want[(want >= start) & (want < start + len(part))]
                if len(hit):
                    pos = at + np.searchsorted(want, hit)
                    D[pos] = np.asarray(part)[hit - start][:, cols]
            at += len(want)
            if tick is not None:
                tick((c0 + (c1 - c0) * (r + 1) / len(sources)) / P)
        for s0 in range(0, c1 - c0, sub):
            piece = D[:, s0 : s0 + sub].astype(np.float64)
            piece -= np.asarray(w0[c0 + s0 : c0 + s0 + piece.shape[1]], dtype=np.float64)
            G += piece @ piece.T
    return G
