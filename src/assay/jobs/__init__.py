"""Entrypoints the compute engine runs; they read config from storage and never touch SQL."""
