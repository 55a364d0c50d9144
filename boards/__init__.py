"""Artix-7 board tops, host link and build flows."""
