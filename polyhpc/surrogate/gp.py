"""Gaussian-process regression on periodic polymer fingerprints.

The kernel is a sum of

- a Tanimoto kernel on the per-atom Morgan count fingerprints,
  ``T(x, y) = x.y / (x.x + y.y - x.y)``, which is positive definite on
  non-negative vectors (Ralaivola et al., Neural Networks 18, 1093 (2005),
  DOI 10.1016/j.neunet.2005.07.009; used for molecules in GAUCHE: Griffiths
  et al., NeurIPS 2023, arXiv 2212.04450);
- optionally a linear kernel on the standardized physics descriptors (a
  Bayesian linear model, so the mean keeps a trend outside the training
  range instead of falling back to the average); ``kernel="linear"`` keeps
  only this part (linear in physics, no fingerprint);
- a constant (the unknown mean level) and white noise (the MD replica scatter).

Amplitudes and the noise are fitted by maximizing the log marginal likelihood
(Rasmussen & Williams, *Gaussian Processes for Machine Learning*, MIT Press
2006, eq. 5.8-5.9) on a random subsample, then the GP is conditioned on all
rows. Predictions give the mean and the predictive standard deviation of a
new MD value (latent variance plus noise), which is what the grouped-CV
calibration checks.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import linalg, optimize, sparse

from polyhpc.errors import ModelError
from polyhpc.surrogate.config import GP_KERNELS, GPSettings

log = logging.getLogger(__name__)

def tanimoto(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """Tanimoto similarity of every row of ``a`` with every row of ``b``.

    Parameters
    ----------
    a : (n, d) sparse, non-negative
    b : (m, d) sparse, non-negative

    Returns
    -------
    (n, m) float64
        1 on identical rows; 1 for two all-zero rows.
    """
    dot = (a @ b.T).toarray().astype(np.float64, copy=False)
    aa = np.asarray(a.multiply(a).sum(axis=1), dtype=np.float64).ravel()
    bb = np.asarray(b.multiply(b).sum(axis=1), dtype=np.float64).ravel()
    # in place: the matrices of a training set are n x n
    denominator = np.add.outer(aa, bb)
    denominator -= dot
    positive = denominator > 0
    np.divide(dot, denominator, out=dot, where=positive)
    dot[~positive] = 1.0
    return dot


class TanimotoGP:
    """Exact GP with a Tanimoto (+ linear) kernel; see the module docstring.

    Parameters
    ----------
    settings : GPSettings, optional
    seed : int
        Seed of the hyperparameter subsample.
    """

    def __init__(self, settings: GPSettings | None = None, seed: int = 0):
        settings = settings or GPSettings()
        if settings.kernel not in GP_KERNELS:
            raise ModelError(f"unknown GP kernel {settings.kernel!r}; use {', '.join(GP_KERNELS)}")
        self.settings = settings
        self.seed = seed
        self._cholesky = None

    @property
    def _parts(self) -> tuple[str, ...]:
        return (*self.settings.kernel.split("+"), "constant")

    def _standardize(self, descriptors: np.ndarray) -> np.ndarray:
        z = (descriptors - self.descriptor_mean) / self.descriptor_scale
        clip = self.settings.descriptor_clip
        return np.clip(z, -clip, clip)

    def _grams(self, fp_a, z_a, fp_b, z_b) -> list[np.ndarray]:
        grams = []
        for part in self._parts:
            if part == "tanimoto":
                grams.append(tanimoto(fp_a, fp_b))
            elif part == "linear":
                grams.append(z_a @ z_b.T / z_a.shape[1])
            else:
                grams.append(np.ones((fp_a.shape[0], fp_b.shape[0])))
        return grams

    @staticmethod
    def _negative_log_likelihood(log_theta: np.ndarray, grams: list[np.ndarray],
                                 y: np.ndarray) -> tuple[float, np.ndarray]:
        amplitudes, noise = np.exp(log_theta[:-1]), np.exp(log_theta[-1])
        k = sum(a * g for a, g in zip(amplitudes, grams, strict=True))
        k[np.diag_indices_from(k)] += noise
        try:
            factor = linalg.cho_factor(k, lower=True)
        except linalg.LinAlgError:
            return 1e20, np.zeros_like(log_theta)
        alpha = linalg.cho_solve(factor, y)
        value = 0.5 * y @ alpha + np.log(np.diag(factor[0])).sum()
        # d(-log L)/d log(theta_i) = -theta_i / 2 * tr((alpha alpha^T - K^-1) dK/dtheta_i)
        inverse, info = linalg.lapack.dpotri(factor[0], lower=True)
        if info != 0:
            return 1e20, np.zeros_like(log_theta)
        inverse = np.tril(inverse) + np.tril(inverse, -1).T  # dpotri fills one triangle
        w = np.outer(alpha, alpha) - inverse
        gradient = [-0.5 * a * np.sum(w * g) for a, g in zip(amplitudes, grams, strict=True)]
        gradient.append(-0.5 * noise * np.trace(w))
        return float(value), np.array(gradient)

    def fit(self, fingerprints: np.ndarray, descriptors: np.ndarray,
            y: np.ndarray) -> TanimotoGP:
        """Fit hyperparameters on a subsample, then condition on every row.

        Parameters
        ----------
        fingerprints : (n, d) float, non-negative
        descriptors : (n, p) float
        y : (n,) float64
        """
        fp = sparse.csr_matrix(fingerprints, dtype=np.float64)
        self.descriptor_mean = descriptors.mean(axis=0)
        scale = descriptors.std(axis=0)
        self.descriptor_scale = np.where(scale > 1e-12, scale, 1.0)
        z = self._standardize(descriptors)
        self.y_mean, self.y_scale = float(y.mean()), float(y.std()) or 1.0
        target = (y - self.y_mean) / self.y_scale
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(len(y), min(self.settings.hyper_rows, len(y)), replace=False))
        grams = self._grams(fp[rows], z[rows], fp[rows], z[rows])
        start = np.log(np.r_[np.full(len(self._parts), 0.5), 0.3])
        result = optimize.minimize(self._negative_log_likelihood, start,
                                   args=(grams, target[rows]), jac=True, method="L-BFGS-B",
                                   bounds=[(-10.0, 5.0)] * len(start))
        self.amplitudes = np.exp(result.x[:-1])
        self.noise = float(np.exp(result.x[-1]))
        log.info("GP hyperparameters %s, noise %.3g (%s)",
                 dict(zip(self._parts, np.round(self.amplitudes, 4), strict=True)),
                 self.noise, result.message)
        self.fingerprints, self.z = fp, z
        self._cholesky = self._factor()
        self.alpha = linalg.cho_solve(self._cholesky, target)
        return self

    def _factor(self):
        k = sum(a * g for a, g in zip(self.amplitudes, self._grams(
            self.fingerprints, self.z, self.fingerprints, self.z), strict=True))
        k[np.diag_indices_from(k)] += self.noise
        return linalg.cho_factor(k, lower=True)

    def predict(self, fingerprints: np.ndarray,
                descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation of a new observation.

        Returns
        -------
        mean, std : (m,) float64
            In the units of the ``y`` the model was fitted on.
        """
        if self._cholesky is None:
            self._cholesky = self._factor()
        fp = sparse.csr_matrix(fingerprints, dtype=np.float64)
        z = self._standardize(descriptors)
        cross = sum(a * g for a, g in zip(self.amplitudes, self._grams(
            fp, z, self.fingerprints, self.z), strict=True))
        mean = cross @ self.alpha
        v = linalg.solve_triangular(self._cholesky[0], cross.T, lower=True)
        prior = np.zeros(len(mean))
        for amplitude, part in zip(self.amplitudes, self._parts, strict=True):
            prior += amplitude * (np.einsum("ij,ij->i", z, z) / z.shape[1]
                                  if part == "linear" else 1.0)
        variance = np.maximum(prior - np.einsum("ij,ij->j", v, v), 0.0) + self.noise
        return mean * self.y_scale + self.y_mean, np.sqrt(variance) * self.y_scale

    def hyperparameters(self) -> dict:
        """Fitted amplitudes and noise (standardized target units)."""
        return {**{p: float(a) for p, a in zip(self._parts, self.amplitudes, strict=True)},
                "noise": self.noise}

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Plain settings and arrays of the fitted GP (its factor is rebuilt on load).

        Returns
        -------
        settings : dict
            JSON-ready: kernel settings, seed, target scaling and noise.
        arrays : dict of str to numpy.ndarray
            Training fingerprints as CSR parts, standardized descriptors,
            their scaling, the amplitudes and the weights ``alpha``.
        """
        fp = self.fingerprints
        settings = {"settings": self.settings.to_dict(), "seed": self.seed,
                    "y_mean": self.y_mean, "y_scale": self.y_scale, "noise": self.noise}
        arrays = {"fp_data": fp.data, "fp_indices": fp.indices.astype(np.int64),
                  "fp_indptr": fp.indptr.astype(np.int64),
                  "fp_shape": np.array(fp.shape, dtype=np.int64), "z": self.z,
                  "descriptor_mean": self.descriptor_mean,
                  "descriptor_scale": self.descriptor_scale, "amplitudes": self.amplitudes,
                  "alpha": self.alpha}
        return settings, arrays

    @classmethod
    def from_arrays(cls, settings: dict, arrays: dict[str, np.ndarray]) -> TanimotoGP:
        """The GP of :meth:`to_arrays`; ``ValueError`` for inconsistent parts."""
        from polyhpc.config import load_config

        gp = cls(load_config(settings["settings"], GPSettings), int(settings["seed"]))
        for name in ("y_mean", "y_scale", "noise"):
            value = settings[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value):
                raise ValueError(f"{name} is {value!r}, expected a finite number")
        gp.y_mean, gp.y_scale, gp.noise = (float(settings[k]) for k in ("y_mean", "y_scale",
                                                                         "noise"))
        shape = arrays["fp_shape"]
        if shape.shape != (2,) or (shape < 0).any():
            raise ValueError("fp_shape is not a matrix shape")
        n, n_bits = (int(v) for v in shape)
        data = arrays["fp_data"]
        if data.dtype != np.float64 or not (np.isfinite(data) & (data >= 0)).all():
            raise ValueError("fp_data must be finite, non-negative float64")
        fp = sparse.csr_matrix((arrays["fp_data"], arrays["fp_indices"], arrays["fp_indptr"]),
                               shape=(n, n_bits))
        fp.check_format(full_check=True)
        gp.fingerprints = fp
        gp.z, gp.alpha = arrays["z"], arrays["alpha"]
        gp.descriptor_mean = arrays["descriptor_mean"]
        gp.descriptor_scale = arrays["descriptor_scale"]
        gp.amplitudes = arrays["amplitudes"]
        p = gp.z.shape[1] if gp.z.ndim == 2 else -1
        expected = {"z": (n, p), "alpha": (n,), "descriptor_mean": (p,),
                    "descriptor_scale": (p,), "amplitudes": (len(gp._parts),)}
        for name, want in expected.items():
            got = getattr(gp, name)
            if got.shape != want or got.dtype.kind != "f" or not np.isfinite(got).all():
                raise ValueError(f"{name} is {got.dtype} {got.shape}, expected finite floats "
                                 f"{want}")
        if not (gp.descriptor_scale > 0).all() or not (gp.amplitudes > 0).all() \
                or gp.noise <= 0 or gp.y_scale <= 0:
            raise ValueError("descriptor scales, amplitudes, noise and y_scale must be positive")
        return gp

    def __getstate__(self) -> dict:
        # In-process copies (Parsl, multiprocessing) rebuild the n x n Cholesky factor
        # on first use instead of carrying it.
        state = self.__dict__.copy()
        state["_cholesky"] = None
        return state
