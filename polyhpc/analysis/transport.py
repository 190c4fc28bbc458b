"""Transport properties of polymer electrolytes from ion trajectories.

Definitions follow the HTP-MD reference analysis (Xie et al., Nat. Commun.
13, 3415 (2022), DOI 10.1038/s41467-022-30994-1) so that values are
comparable with the HTP-MD database:

- diffusivity: D = <|r(t_end) - r(0)|²> / (6 t_end), drift-free unwrapped
  positions (one time origin);
- conductivity: cluster Nernst-Einstein (France-Lanord & Grossman, PRL 122,
  136001 (2019), DOI 10.1103/PhysRevLett.122.136001), clusters with fewer than
  ``max_cluster`` cations and anions, charge i - j, positive clusters moving
  with D_cation and negative ones with D_anion;
- Nernst-Einstein conductivity and transference number from ion diffusivities.

Physical constants are the exact SI 2019 values.
"""

from __future__ import annotations

import numpy as np

ELEMENTARY_CHARGE_C = 1.602176634e-19
BOLTZMANN_J_PER_K = 1.380649e-23
AVOGADRO_PER_MOL = 6.02214076e23
A2_PER_PS_TO_CM2_PER_S = 1e-16 / 1e-12
A3_TO_CM3 = 1e-24


def diffusivity_from_endpoint(msd_A2: float, duration_ps: float) -> float:
    """HTP-MD diffusivity in cm²/s from the end-to-end MSD over ``duration_ps``."""
    if duration_ps <= 0:
        raise ValueError(f"duration_ps must be positive, got {duration_ps}")
    return msd_A2 / (6.0 * duration_ps) * A2_PER_PS_TO_CM2_PER_S


def fit_diffusivity(msd_A2: np.ndarray, frame_interval_ps: float,
                    window: tuple[float, float] = (0.1, 0.5)) -> tuple[float, float]:
    """Diffusivity (cm²/s) from a linear fit of a multiple-origin MSD curve.

    Parameters
    ----------
    msd_A2 : (n_lags,) or (n_blocks, n_lags) float64, Å²
        MSD by lag; with several rows (independent atom blocks) the fit is
        made per row and the uncertainty is their standard error.
    frame_interval_ps : float
        Time between frames.
    window : (float, float)
        Fraction of the lag range fitted: the default skips the ballistic
        and sub-diffusive start and the noisy tail.

    Returns
    -------
    diffusivity, uncertainty : float, float
        cm²/s; the uncertainty is NaN for a single curve.
    """
    curves = np.atleast_2d(np.asarray(msd_A2, dtype=np.float64))
    n_lags = curves.shape[1]
    first = max(1, int(window[0] * (n_lags - 1)))
    last = max(first + 1, int(window[1] * (n_lags - 1)))
    if last >= n_lags:
        raise ValueError(f"fit window {window} leaves fewer than 2 lags of {n_lags}")
    lags_ps = np.arange(first, last + 1) * frame_interval_ps
    slopes = np.polyfit(lags_ps, curves[:, first:last + 1].T, 1)[0]
    values = slopes / 6.0 * A2_PER_PS_TO_CM2_PER_S
    if values.size == 1:
        return float(values[0]), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def _prefactor(volume_A3: float, temperature_K: float) -> float:
    """e² / (V k_B T) in S s / cm³ (times cm²/s gives S/cm)."""
    if not (temperature_K > 0 and volume_A3 > 0):
        raise ValueError(f"temperature_K and volume_A3 must be positive, got {temperature_K}, "
                         f"{volume_A3}")
    return ELEMENTARY_CHARGE_C**2 / (volume_A3 * A3_TO_CM3 * BOLTZMANN_J_PER_K * temperature_K)


def cluster_ne_conductivity(population: np.ndarray, d_cation_cm2_s: float,
                            d_anion_cm2_s: float, volume_A3: float, temperature_K: float,
                            max_cluster: int = 10) -> tuple[float, float]:
    """Cluster Nernst-Einstein conductivity and transference number.

    Parameters
    ----------
    population : (rows, cols) float64
        Mean number of clusters with i cations and j anions.
    d_cation_cm2_s, d_anion_cm2_s : float
        Ion diffusivities; a positive cluster moves with the cation's, a
        negative one with the anion's.
    volume_A3 : float
        Box volume.
    temperature_K : float
    max_cluster : int
        Clusters with ``i < max_cluster`` and ``j < max_cluster`` are summed;
        at least 2, or not even a free ion would count.

    Returns
    -------
    conductivity_S_per_cm, transference_number : float, float
        The transference number is NaN when no charged cluster is summed.
    """
    if max_cluster < 2:
        raise ValueError(f"max_cluster must be >= 2, got {max_cluster}")
    population = np.asarray(population, dtype=np.float64)
    i, j = np.meshgrid(np.arange(max_cluster), np.arange(max_cluster), indexing="ij")
    block = np.zeros((max_cluster, max_cluster))
    rows = min(max_cluster, population.shape[0])
    cols = min(max_cluster, population.shape[1])
    block[:rows, :cols] = population[:rows, :cols]
    charge = i - j
    diffusivity = np.where(charge > 0, d_cation_cm2_s, d_anion_cm2_s) * (charge != 0)
    weights = charge**2 * block * diffusivity
    conductivity = _prefactor(volume_A3, temperature_K) * weights.sum()
    total = weights.sum()
    # no charged cluster at all (e.g. every ion paired): the transference number is undefined
    transference = float((i * charge * block * diffusivity).sum() / total) if total else np.nan
    return float(conductivity), transference


def ne_conductivity(n_cations: int, n_anions: int, d_cation_cm2_s: float,
                    d_anion_cm2_s: float, volume_A3: float,
                    temperature_K: float) -> tuple[float, float]:
    """Nernst-Einstein conductivity (S/cm) and transference number of monovalent ions."""
    cation = n_cations * d_cation_cm2_s
    anion = n_anions * d_anion_cm2_s
    return (_prefactor(volume_A3, temperature_K) * (cation + anion),
            cation / (cation + anion))


def molality(n_cations: int, polymer_mass_amu: float) -> float:
    """Salt molality in mol per kg of polymer."""
    return n_cations / polymer_mass_amu * 1e3


def density(total_mass_amu: float, volume_A3: float) -> float:
    """Mass density in g/cm³."""
    return total_mass_amu / AVOGADRO_PER_MOL / (volume_A3 * A3_TO_CM3)
