"""The staff web console: `bumpbuddies console`, or `create_app()` mounted in another ASGI app."""
