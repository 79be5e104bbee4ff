"""One module per resource; routes translate HTTP to service calls and nothing more."""
