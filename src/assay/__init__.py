"""Assay: a self-hosted lab to evaluate, compare and serve ML models."""

__version__ = "0.1.0"
