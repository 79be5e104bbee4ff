"""Experiment tracking contract and its MLflow implementation (arrives with experiments)."""
