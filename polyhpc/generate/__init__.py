"""The SMILES generator: tokenizer, minGPT model, training, conditional sampling, metrics.

``config`` holds the settings (no torch); ``model``, ``train``, ``sample``,
``decode``, ``dataset``, ``metrics`` and ``search`` import torch.
"""
