"""aiproxyapi: one gateway that speaks every major AI API in front of a pool of credentials."""

__all__ = ["__version__"]

__version__ = "0.1.0"
