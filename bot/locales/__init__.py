"""Message catalogues, one TOML file per language."""
