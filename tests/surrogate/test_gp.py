import numpy as np
import pytest
from rdkit import DataStructs
from scipy import sparse

from polyhpc.chem import morgan_fingerprint
from polyhpc.surrogate.config import GPSettings
from polyhpc.surrogate.gp import TanimotoGP, tanimoto


def test_tanimoto_kernel_equals_rdkit_on_bit_fingerprints():
    units = ["*CCO*", "*CC(C)O*", "*CCN*", "*CC(=O)O*", "*c1ccc(*)cc1", "*CCCCO*"]
    bits = [morgan_fingerprint(u) for u in units]
    dense = np.array([[int(b) for b in fp.ToBitString()] for fp in bits], dtype=float)
    gram = tanimoto(sparse.csr_matrix(dense), sparse.csr_matrix(dense))
    for i, fp in enumerate(bits):
        np.testing.assert_allclose(gram[i], DataStructs.BulkTanimotoSimilarity(fp, bits),
                                   rtol=1e-12)


def _data(n=120, d=40, p=5, seed=0):
    rng = np.random.default_rng(seed)
    fp = rng.poisson(0.3, (n, d)).astype(float)
    desc = rng.normal(size=(n, p))
    y = 0.7 * desc[:, 0] - 0.4 * desc[:, 1] + fp[:, :3].sum(axis=1) * 0.2 \
        + rng.normal(0, 0.2, n)
    return fp, desc, y


def test_marginal_likelihood_gradient_matches_finite_differences():
    fp, desc, y = _data()
    gp = TanimotoGP(GPSettings(kernel="tanimoto+linear"))
    gp.descriptor_mean, gp.descriptor_scale = desc.mean(0), desc.std(0)
    z = gp._standardize(desc)
    m = sparse.csr_matrix(fp)
    grams = gp._grams(m, z, m, z)
    theta = np.log([0.4, 0.3, 0.05, 0.2])
    target = (y - y.mean()) / y.std()
    _, gradient = gp._negative_log_likelihood(theta, grams, target)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        numeric = (gp._negative_log_likelihood(theta + step, grams, target)[0]
                   - gp._negative_log_likelihood(theta - step, grams, target)[0]) / 2e-6
        assert gradient[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_posterior_equals_the_textbook_formulas_with_an_explicit_inverse():
    fp, desc, y = _data()
    gp = TanimotoGP(GPSettings(kernel="tanimoto+linear")).fit(fp[:100], desc[:100], y[:100])
    mean, std = gp.predict(fp[100:], desc[100:])
    a_t, a_l, a_c = gp.amplitudes
    z_train, z_test = gp._standardize(desc[:100]), gp._standardize(desc[100:])

    def tanimoto_dense(a, b):
        dot = a @ b.T
        return dot / ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - dot)

    def k(fa, za, fb, zb):
        return a_t * tanimoto_dense(fa, fb) + a_l * za @ zb.T / za.shape[1] + a_c

    big_k = k(fp[:100], z_train, fp[:100], z_train) + gp.noise * np.eye(100)
    cross = k(fp[100:], z_test, fp[:100], z_train)
    inverse = np.linalg.inv(big_k)
    target = (y[:100] - y[:100].mean()) / y[:100].std()
    expected_mean = cross @ inverse @ target * y[:100].std() + y[:100].mean()
    prior = np.diag(k(fp[100:], z_test, fp[100:], z_test))
    expected_var = prior - np.einsum("ij,jk,ik->i", cross, inverse, cross) + gp.noise
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-8)
    np.testing.assert_allclose(std, np.sqrt(expected_var) * y[:100].std(), rtol=1e-6)


def test_linear_kernel_gp_agrees_with_scikit_learns_dot_product_gp():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, DotProduct, WhiteKernel

    fp, desc, y = _data(n=150)
    ours = TanimotoGP(GPSettings(kernel="linear", hyper_rows=150)).fit(fp, desc, y)
    z = ours._standardize(desc)
    kernel = ConstantKernel(1.0, (1e-5, 1e3)) * DotProduct(1.0, (1e-5, 1e3)) + \
        WhiteKernel(0.1, (1e-6, 1e2))
    reference = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=3,
                                         random_state=0).fit(z, y)
    rng = np.random.default_rng(5)
    new = rng.normal(size=(20, desc.shape[1]))
    mean, std = ours.predict(np.zeros((20, fp.shape[1])), new)
    ref_mean, ref_std = reference.predict(ours._standardize(new), return_std=True)
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=2e-3 * np.ptp(y))
    # both include the white noise: the std of a new observation, not of the latent mean
    np.testing.assert_allclose(std, ref_std, rtol=2e-2)
    assert std.min() ** 2 > reference.kernel_.k2.noise_level * y.std() ** 2


def test_saved_gp_drops_its_factor_and_rebuilds_the_same_predictions():
    import pickle

    fp, desc, y = _data()
    gp = TanimotoGP().fit(fp, desc, y)
    before = gp.predict(fp[:5], desc[:5])
    again = pickle.loads(pickle.dumps(gp))
    assert again._cholesky is None
    np.testing.assert_allclose(again.predict(fp[:5], desc[:5]), before, rtol=1e-10)
