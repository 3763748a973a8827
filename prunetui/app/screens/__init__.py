"""Screens over the main one: help, quit confirmation, config file prompt."""
