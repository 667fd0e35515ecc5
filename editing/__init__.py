"""Working with latents of real images: projection (projector.py) and directions (edit.py)."""
