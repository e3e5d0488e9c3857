"""The grader's own copy of the lecture's Iris split is scikit-learn's."""

import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from autograder.suite.data import iris_split


def test_iris_split_is_train_test_split_of_load_iris():
    """iris_split holds exactly train_test_split(test_size=1/3, random_state=1) of load_iris, standardized."""
    iris = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(iris["data"], iris["target"], test_size=1 / 3, random_state=1)
    mean, std = X_train.mean(), X_train.std()
    split = iris_split()
    assert torch.equal(split.X_train, torch.from_numpy((X_train - mean) / std).float())
    assert torch.equal(split.X_test, torch.from_numpy((X_test - mean) / std).float())
    assert torch.equal(split.y_train, torch.from_numpy(y_train))
    assert torch.equal(split.y_test, torch.from_numpy(y_test))
