"""modelyard: Azure ML style online endpoints on one machine."""

__version__ = "0.1.0"
