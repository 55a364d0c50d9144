"""cocotb testbenches and runner helpers (Verilator and Icarus)."""
