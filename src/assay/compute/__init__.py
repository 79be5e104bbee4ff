"""Compute engine contract and its Ray implementation (arrives with jobs)."""
