"""Amaranth generators of the processing elements and the network core."""
