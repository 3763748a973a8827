"""The `prunetui` command: the app by default, headless subcommands for scripts and SSH sessions."""

from prunetui.cli.main import command, main

__all__ = ["command", "main"]
