"""Readers of the checkpoint files users hold, none of which runs code from the file."""
