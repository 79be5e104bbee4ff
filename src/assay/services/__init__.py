"""Use cases. Each service owns its transactions and is the only caller of repositories."""
