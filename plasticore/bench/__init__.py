"""Side-by-side benchmarks of plasticore against peer simulators (optional ``bench`` extra)."""
