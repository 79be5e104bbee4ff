"""Key material, encryption of secrets at rest and signed download links."""
