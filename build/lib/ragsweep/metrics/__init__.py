"""Pure scoring functions: arrays and spans in, numbers out, no I/O."""
