"""Cost estimate: the price file, the pure cost model, and the plan's cost lines."""
