"""Settlement's use cases: the only place that commits and emits events."""
