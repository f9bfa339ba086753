"""The engine every model trains through, and its plumbing: settings, devices, data, the training loop, recipes,
checkpoints and the CUDA-graph speed path. Nothing here knows a particular model."""
