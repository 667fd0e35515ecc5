"""Explore a trained model in the browser: explore.py serves one local page to browse seeds,
truncation, style mixing, noise, interpolation and latent directions (standard library only,
offline, safe to leave running on a shared machine)."""
from explorer.server import Explorer, new_token, serve
from explorer.views import ModelView

__all__ = ["Explorer", "ModelView", "new_token", "serve"]
