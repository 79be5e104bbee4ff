"""Pydantic models at the HTTP boundary. Lumigator-compatible shapes keep Lumigator's names."""
