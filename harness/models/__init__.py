"""Model weights (bundled, local or hub), text encoders, causal LMs and the GGUF export."""
