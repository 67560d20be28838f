"""Customer-facing blueprints: parse, authorize, one domain call, commit, respond."""
