"""Benchmarks: `python -m bench.run_invoice_list` (see docs/benchmarks.md)."""
