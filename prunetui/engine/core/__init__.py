"""The core of an experiment: its settings (config), errors, events, data, models, training, optimizers, metrics,
atomic file writes, and the experiment that ties them into one stream of events."""
