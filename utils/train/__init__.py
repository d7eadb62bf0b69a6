"""Training: splits, devices and data parallelism, batches, the resumable training loop, calibration,
batch norms adapted to the clips predicted."""
