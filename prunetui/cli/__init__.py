"""The `prunetui` command: the app by default, headless subcommands for scripts and SSH sessions."""

from prunetui.cli.main import main

__all__ = ["main"]
