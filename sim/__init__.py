"""Simulated engines that speak the real wire protocols, for the demo, tests and benchmarks."""
