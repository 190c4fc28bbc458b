"""Slow, obviously correct twins of the Numba kernels (house style item 14)."""

import itertools

import numpy as np


def msd_all_origins(positions):
    n = positions.shape[0]
    out = np.zeros(n)
    for lag in range(1, n):
        out[lag] = np.mean(np.sum((positions[lag:] - positions[:-lag]) ** 2, axis=-1))
    return out


def clusters(positions, box, cutoff, molecules=None):
    """Breadth-first search over an all-pairs minimum-image contact graph."""
    n = len(positions)
    linked = [[False] * n for _ in range(n)]
    for i, j in itertools.combinations(range(n), 2):
        delta = positions[j] - positions[i]
        delta -= box * np.round(delta / box)
        close = np.sqrt(np.sum(delta**2)) <= cutoff
        same = molecules is not None and molecules[i] >= 0 and molecules[i] == molecules[j]
        linked[i][j] = linked[j][i] = close or same
    labels = [-1] * n
    for start in range(n):
        if labels[start] >= 0:
            continue
        stack, members = [start], []
        labels[start] = start
        while stack:
            i = stack.pop()
            members.append(i)
            for j in range(n):
                if linked[i][j] and labels[j] < 0:
                    labels[j] = start
                    stack.append(j)
    return np.array(labels)


def population(labels, is_cation, is_anion, size=50):
    out = np.zeros((size, size))
    for root in set(labels.tolist()):
        members = labels == root
        out[int(is_cation[members].sum()), int(is_anion[members].sum())] += 1
    return out
