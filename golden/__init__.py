"""Integer numpy golden model of the fixed-point network: the specification the RTL is held to."""
