"""digits-cnn: the training pipeline of digits_cnn.ipynb, as a package."""

__version__ = "0.1.0"
