"""Training: the Trainer and its step, optimisers and schedules, the batch loader, the history and
early stopping, the device's speed switches, distributed data parallel, checkpoints and the time
budget's planner."""
