"""plasticore: FPGA RTL generator and co-simulation flow for spiking neural networks."""

__version__ = "0.1.0"
