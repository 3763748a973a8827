"""prunetui: run neural-network pruning experiments with PyTorch and watch them happen."""

__version__ = "0.1.0"
