"""Pruning with torch.nn.utils.prune, as three independent choices:

- criterion (which weights go): one module per criterion (`l1`, `random_weights`, `taylor`, `ln_structured`) behind
  the small interface in `criterion`, looked up in `registry.CRITERIA`;
- budget (where the zeros go): `allocation.prune_to`, per layer, or ranked across layers with an optional cap;
- schedule (how the target is approached): `schedules`, one-shot, iterative or AGP, as plans the experiment follows.

The registry, the criteria and the schedules load without torch (it is imported where weights are touched), so the
config schema takes its choices from them and the app paints before torch is loaded. Adding a criterion or a
schedule is one class (with its own settings, if any, in a small dataclass beside it that the schema composes) and
one registry line.
"""
