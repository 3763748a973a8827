"""Runs on disk: the run directory and its lock, recording, the history and other CSV text, export and compaction
of saved models."""
