"""Element identity from atom masses, as the HTP-MD reference infers it.

LAMMPS dumps carry per-atom masses but no elements. The HTP-MD analysis maps
each mass to the element whose standard atomic weight is nearest and then uses
that standard weight (not the dumped mass) for centres of mass and molality.
Weights: IUPAC standard atomic weights (abridged, as in CIAAW 2013/2017).
"""

import numpy as np

#: Standard atomic weight (g/mol) by atomic number; index 0 is a placeholder.
STANDARD_ATOMIC_WEIGHTS = np.array([
    0.0, 1.008, 4.002602, 6.94, 9.0121831, 10.81, 12.011, 14.007, 15.999,
    18.998403163, 20.1797, 22.98976928, 24.305, 26.9815385, 28.085,
    30.973761998, 32.06, 35.45, 39.948, 39.0983, 40.078, 44.955908,
    47.867, 50.9415, 51.9961, 54.938044, 55.845, 58.933194, 58.6934, 63.546,
    65.38, 69.723, 72.63, 74.921595, 78.971, 79.904, 83.798,
])


def atomic_numbers_from_masses(masses_amu: np.ndarray, tolerance_amu: float = 0.5) -> np.ndarray:
    """Atomic number of the element whose standard weight is nearest each mass.

    Parameters
    ----------
    masses_amu : (n,) float
        Per-atom masses in g/mol.
    tolerance_amu : float
        Largest accepted distance from that weight (force fields round
        masses by far less; a corrupt mass would otherwise pass as an element).

    Returns
    -------
    (n,) int64
        Atomic numbers (1..36).

    Raises
    ------
    ValueError
        A mass is further than ``tolerance_amu`` from every element's weight.
    """
    masses = np.asarray(masses_amu, dtype=np.float64)
    distance = np.abs(masses[:, None] - STANDARD_ATOMIC_WEIGHTS[None, 1:])
    nearest = np.argmin(distance, axis=1)
    off = np.flatnonzero(~(distance[np.arange(len(masses)), nearest] <= tolerance_amu))
    if off.size:
        raise ValueError(f"mass {masses[off[0]]!r} g/mol is no element's standard weight "
                         f"(tolerance {tolerance_amu} g/mol)")
    return nearest.astype(np.int64) + 1


def standard_masses(atomic_numbers: np.ndarray) -> np.ndarray:
    """Standard atomic weights (g/mol) for atomic numbers."""
    return STANDARD_ATOMIC_WEIGHTS[np.asarray(atomic_numbers)]
