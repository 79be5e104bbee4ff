"""Provider implementations; each module is imported only when a run uses it (see ``registry``)."""
