"""Example configurations shipped with spikeforge (``digits.toml`` is the default)."""
