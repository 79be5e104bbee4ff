"""Evaluation steps that need a model: LLM-as-judge."""
