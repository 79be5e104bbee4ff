"""Helpers that start real local servers (SeaweedFS, PostgreSQL databases) for tests and benchmarks."""
