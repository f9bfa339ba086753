"""Loss functions of the course, each written out so the formula on the slide is visible in the code."""

from __future__ import annotations

import torch
import torch.nn.functional as F


# --- Regression and perceptual losses (notebooks 01–02) ---


# --- VAE: Gaussian KL and the ELBO (notebook 03) ---


# --- GAN losses (notebooks 04–06) ---
