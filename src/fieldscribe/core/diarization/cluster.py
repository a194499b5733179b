"""Grouping voice fingerprints into voices.

k-means when the number of voices is known (a one-to-one interview has two); spectral
clustering otherwise, with the number of voices read off the eigengap of the pruned cosine
affinity (the usual recipe for speaker embeddings: average-linkage clustering splits off a few
odd windows as voices of their own). numpy only: the app carries no scipy or scikit-learn.
"""

from __future__ import annotations

import numpy as np

# How far apart (mean cosine within groups minus across) groups must be to count as voices.
# Measured on espeak-ng voices, which come from one synthesiser and sound alike: one voice
# split in two sits 0.05-0.10 apart, two voices 0.09-0.27. Real voices are further apart (CAM++
# on a real two-person call: 0.76 within, 0.44 across). To be tuned on real recordings; when
# the number of voices is known (a one-to-one interview) this test is not used.
ONE_VOICE_SEPARATION = 0.08
# Spectral clustering decomposes an n×n affinity: past this many windows it runs on an even
# sample of them (an hour of speech is ~9,600 windows), and every window joins the nearest voice.
MAX_SPECTRAL = 1500


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, tries: int = 8, rounds: int = 60) -> np.ndarray:
    """Labels 0..k-1 for the rows of X (unit vectors), the best of TRIES k-means++ starts."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    best, best_cost = np.zeros(n, dtype=int), np.inf
    for _ in range(tries):
        centres = [x[rng.integers(n)]]
        for _ in range(1, k):  # k-means++: far points are likelier first centres
            d = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
            total = d.sum()
            centres.append(x[rng.choice(n, p=d / total)] if total > 0 else x[rng.integers(n)])
        c = np.array(centres)
        labels = np.zeros(n, dtype=int)
        for _ in range(rounds):
            distance = ((x[:, None, :] - c[None, :, :]) ** 2).sum(2)
            new = distance.argmin(1)
            if np.array_equal(new, labels) and _ > 0:
                break
            labels = new
            for j in range(k):
                if (labels == j).any():
                    c[j] = x[labels == j].mean(0)
        cost = float(((x - c[labels]) ** 2).sum())
        if cost < best_cost:
            best, best_cost = labels, cost
    return in_order(best)


def spectral(x: np.ndarray, max_speakers: int = 8, *, prune: float = 0.15) -> np.ndarray:
    """Labels for the rows of X with the number of voices estimated (1..MAX_SPEAKERS).

    The cosine affinity keeps, per row, only its closest PRUNE share of neighbours (made
    symmetric), which removes the weak links between voices; the number of voices is where
    the normalised Laplacian's eigenvalues jump most."""
    n = len(x)
    if n < 3:
        return np.zeros(n, dtype=int)
    if n > MAX_SPECTRAL:
        stride = -(-n // MAX_SPECTRAL)
        sample = spectral(x[::stride], max_speakers, prune=prune)
        means = np.array([x[::stride][sample == g].mean(0) for g in range(int(sample.max()) + 1)])
        return in_order((x @ means.T).argmax(1))
    # one voice still splits somewhere: go on only if the best split in two is clearly apart
    if separation(x, kmeans(x, 2)) < ONE_VOICE_SEPARATION:
        return np.zeros(n, dtype=int)
    sim = x @ x.T
    keep = max(2, int(np.ceil(prune * n)))
    affinity = np.zeros_like(sim)
    nearest = np.argsort(-sim, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    affinity[rows, nearest.ravel()] = sim[rows, nearest.ravel()]
    affinity = np.maximum((affinity + affinity.T) / 2, 0)
    np.fill_diagonal(affinity, 0)
    degree = affinity.sum(1)
    scale = 1 / np.sqrt(np.maximum(degree, 1e-9))
    laplacian = np.eye(n) - scale[:, None] * affinity * scale[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    top = min(max_speakers, n - 1)
    gaps = np.diff(values[: top + 1])
    k = int(np.argmax(gaps)) + 1
    if k == 1:
        return np.zeros(n, dtype=int)
    v = vectors[:, :k]
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return kmeans(v, k)


def separation(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine within groups minus mean cosine across them (0 for a single group)."""
    groups = [x[labels == g] for g in range(int(labels.max()) + 1) if (labels == g).any()]
    if len(groups) < 2:
        return 0.0
    within = [float((g @ g.T)[np.triu_indices(len(g), 1)].mean()) for g in groups if len(g) > 1]
    across = [float((a @ b.T).mean()) for i, a in enumerate(groups) for b in groups[i + 1 :]]
    return float(np.mean(within) - np.mean(across)) if within else 0.0


def in_order(labels: np.ndarray) -> np.ndarray:
    """Renumber labels by first appearance: voice 0 is the first heard."""
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=int)
