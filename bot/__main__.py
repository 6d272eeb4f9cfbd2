"""`python -m bot` is the same as the `bumpbuddies` command."""

from bot.cli import main

main()
