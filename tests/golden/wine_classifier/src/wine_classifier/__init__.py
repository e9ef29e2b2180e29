"""wine-classifier: the training pipeline of wine_classifier.ipynb, as a package."""

__version__ = "0.1.0"
