"""The host: GPT-2 in numpy, tokenizers, data, checkpoints, optimizers (AdamW, MeZO, PeZO), matmul
backends and the trainer."""
