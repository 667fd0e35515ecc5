"""Images from a generator: batched rendering with fixed settings (truncation, noise), the
truncation centre, noise maps, style mixing, projected latents and latent walks.

Every script that draws images (generate, train's sample grids, metrics, projector, edit,
digits) uses this module, so one set of settings always gives the same pixels.
"""
from rendering.grids import (coarse_blocks, mixed_layers, random_targets, real_mixing_grid,
                             sample_grid, style_mixing_grid, style_mixing_images)
from rendering.latents import ProjectedLatents, read_direction
from rendering.renderer import (MEAN_STYLE_SAMPLES, Renderer, choose_size, generated_batches,
                                make_noise, mean_style, render_layers, stored_noise)
from rendering.walks import latent_walk, slerp
