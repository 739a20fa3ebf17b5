"""Bridges to training frameworks; each submodule imports its framework only when imported itself.

* :mod:`losskit.integrations.transformers`: a Hugging Face ``Trainer`` whose
  causal-LM loss is :func:`losskit.functional.linear_cross_entropy` (no
  logits), with an exact token mean under gradient accumulation and DDP
  (``pip install losskit[hf]``).
"""
