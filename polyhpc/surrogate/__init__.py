"""Surrogate property models: pre-screening candidates and laptop-scale evaluation.

- :mod:`~polyhpc.surrogate.config`: settings (``SurrogateConfig``, YAML-loadable);
- :mod:`~polyhpc.surrogate.periodic`, :mod:`~polyhpc.surrogate.features`:
  intensive features of the infinite chain, cached per spelling;
- :mod:`~polyhpc.surrogate.gp` (default) and :mod:`~polyhpc.surrogate.gbt`
  (the first surrogate): the regressors;
- :mod:`~polyhpc.surrogate.model`: ``train_surrogate(frame, config)`` and
  ``SurrogateModel.predict(smiles)``; :mod:`~polyhpc.surrogate.training_data`
  refuses training values in the wrong unit;
- :mod:`~polyhpc.surrogate.modelfile`: the saved model, arrays and JSON in
  one ``.npz`` (never a pickle); :mod:`~polyhpc.surrogate.legacy` converts a
  pickled model of an older polyhpc, on the user's explicit trust only;
- :mod:`~polyhpc.surrogate.evaluate`, :mod:`~polyhpc.surrogate.ood`,
  :mod:`~polyhpc.surrogate.plots`: grouped CV, calibration and the
  out-of-distribution benchmark;
- :mod:`~polyhpc.surrogate.acquisition`: which K of N candidates go to MD.
"""
