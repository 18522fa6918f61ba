"""Benchmarks (``make bench``): each module measures one thing and writes results/bench/<name>.json."""
