"""Networks as specs: one object per network (how to build it for the data, its example input, its loss, its
prunable and output layers found by walking it), a registry of built-in names, `torchvision:NAME`, and the user's
own `module:factory`; the checks that run before anything trains; and what a network costs.

- `registry.resolve(name, args)` → `spec.NetworkSpec` (nothing imported yet);
- `checks.check_network(spec, shape, ...)` → the built, checked model, its layers and example batch;
- `cost.measure_cost` / `cost.measure_latency`: parameters, MACs (dense and non-zero), milliseconds.

Structural pruning itself (masks over whole channel groups, the compact model) is `engine.pruning.structural`.
"""
