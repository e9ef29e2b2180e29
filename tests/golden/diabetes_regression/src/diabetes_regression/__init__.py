"""diabetes-regression: the training pipeline of diabetes_regression.ipynb, as a package."""

__version__ = "0.1.0"
