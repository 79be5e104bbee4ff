"""Dataset validation and conversion: pure table logic, no HTTP, no SQL."""
