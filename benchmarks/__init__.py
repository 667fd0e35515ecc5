"""benchmark.py's figures: ours (our own code) and peers (side by side with other projects)."""
