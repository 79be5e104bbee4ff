"""Code that stands for third-party packages extending Assay (never shipped in the wheel)."""
