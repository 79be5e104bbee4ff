"""HTTP layer: routes, dependencies, error mapping. No business logic lives here."""
