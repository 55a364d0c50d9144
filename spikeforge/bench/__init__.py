"""Side-by-side benchmarks of spikeforge against peer simulators (optional ``bench`` extra)."""
