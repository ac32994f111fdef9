"""Engine adapters, the domain model and the Fleet. Never imports textual, rich or tui."""
