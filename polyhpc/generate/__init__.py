"""The SMILES generator: tokenizer, minGPT model, training, conditional sampling, metrics.

``config`` holds the settings (no torch); ``model``, ``train``, ``sample``,
``decode``, ``dataset``, ``metrics`` and ``search`` import torch.

A notebook needs the checkpoint loader and the sampler, exported here and
imported on first use, so that importing this package (the campaign's light
commands do) never loads torch::

    from polyhpc.generate import SampleConfig, generate_candidates, load_checkpoint
    state = load_checkpoint("runs/generator/model.pt")
    report = generate_candidates(state.model, state.tokenizer, set(), set(), SampleConfig(n=10))
"""

from polyhpc.lazy import exports

#: Exported name -> the module that defines it.
_EXPORTS = {
    "GeneratorConfig": "polyhpc.generate.config",
    "SampleConfig": "polyhpc.generate.config",
    "load_checkpoint": "polyhpc.generate.train",
    "train_generator": "polyhpc.generate.train",
    "generate_candidates": "polyhpc.generate.sample",
    "sample_smiles": "polyhpc.generate.sample",
    "sample_unconstrained": "polyhpc.generate.sample",
}

__all__ = sorted(_EXPORTS)


# imported on first use (torch is slow to load)
__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())
