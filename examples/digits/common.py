"""Loading and splitting shared by train.py and evaluate.py, so both see the same test set."""
import numpy as np


def load_split(path, seed):
    table = np.loadtxt(path, delimiter=',', skiprows=1)
    features, labels = table[:, :-1] / 16.0, table[:, -1].astype(int)
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(len(labels) * 0.8)
    train, test = order[:cut], order[cut:]
    return features[train], labels[train], features[test], labels[test]
