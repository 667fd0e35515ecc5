"""The perceptual networks the metrics run: Inception-v3 for FID, LPIPS (VGG16) for PPL and
projection, with their published weights read from pip packages."""
