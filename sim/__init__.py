"""sim: cycle-approximate simulator of low-bit LLM inference accelerators."""
