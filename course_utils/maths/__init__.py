"""The maths the notebooks teach, as plain functions on tensors: losses and bounds, 1-D and 2-D densities, latent
spaces, Lipschitz constants. No networks, no training."""
