"""Example configurations shipped with plasticore (``digits.toml`` is the default)."""
