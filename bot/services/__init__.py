"""Plain async services: they take a database session and return data, and never import telegram."""
