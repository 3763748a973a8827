"""The core of an experiment: its settings (config), errors, events, data, models, training (with torch.optim's
optimizers), learning-rate schedules, metrics, atomic file writes, and the experiment that ties them into one
stream of events."""
