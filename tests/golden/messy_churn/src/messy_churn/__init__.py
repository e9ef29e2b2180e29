"""messy-churn: the training pipeline of messy_churn.ipynb, as a package."""

__version__ = "0.1.0"
