"""Interactive explorers built with ipywidgets. The update logic of each is a plain function, tested without a browser."""

from __future__ import annotations


# --- VAE latent sliders and image editing (notebook 03) ---


# --- DCGAN interpolation and arithmetic explorers (notebook 05) ---
