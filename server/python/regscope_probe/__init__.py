"""RegScope probe runtime: runs a user's training script unmodified and measures curvature,
loss landscape, gradient noise and weight spectra at a probe step. Standard library + torch."""

HARNESS_VERSION = "0.1.0"
EVENT_VERSION = 1
