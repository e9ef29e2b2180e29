"""tabular-mlp: the training pipeline of tabular_mlp.ipynb, as a package."""

__version__ = "0.1.0"
