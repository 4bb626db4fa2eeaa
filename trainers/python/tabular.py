"""Reading ctloop's training CSV into standardised numpy arrays, shared by the example trainers."""

import numpy as np


def load_standardized(path, features, label):
    """Returns (X standardised, y, column means, column stds); empty cells take the column mean."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    cols = [header.index(name) for name in features + [label]]
    data = np.atleast_2d(np.genfromtxt(path, delimiter=",", skip_header=1, usecols=cols, dtype=np.float64))
    X, y = data[:, :-1], data[:, -1]
    means = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), means, X)
    stds = X.std(axis=0)
    stds[stds == 0] = 1.0
    return (X - means) / stds, y, means, stds
