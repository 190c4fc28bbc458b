import numpy as np
import pandas as pd
import pytest

from polyhpc.data import load_htpmd_properties
from polyhpc.errors import DataIntegrityError, PolyhpcError
from polyhpc.surrogate.config import SurrogateConfig
from polyhpc.surrogate.model import train_surrogate

FAST = SurrogateConfig()


@pytest.fixture(scope="module")
def htpmd():
    return load_htpmd_properties().iloc[:200].reset_index(drop=True)


def _valid(frame) -> int:
    from polyhpc.chem import check_repeat_unit

    return sum(check_repeat_unit(unit).valid for unit in frame["smiles"])


def _with(htpmd, **columns):
    extra = pd.DataFrame({"smiles": ["*CCOCO*", "*OCCOC*"], **columns})
    return pd.concat([htpmd, extra], ignore_index=True)


def test_campaign_rows_in_S_per_cm_are_learned(htpmd):
    model = train_surrogate(_with(htpmd, conductivity_S_per_cm=[1.1e-3, 1.5e-3]), FAST)
    assert model.n_training == _valid(htpmd) + 2
    table = model.predict(["*OCCOC*", "*COCCO*"])  # the second is the first, translated
    assert table["in_training_set"].tolist() == [True, True]


def test_conductivity_only_in_mS_per_cm_is_refused_not_converted(htpmd):
    frame = _with(htpmd, conductivity_mS_per_cm=[1.1, 1.5])
    with pytest.raises(DataIntegrityError, match=r"row\(s\) 200 \(\*CCOCO\*\), 201 .* only in "
                                                 r"mS/cm .*S/cm = mS/cm / 1000"):
        train_surrogate(frame, FAST)


def test_mS_values_in_the_S_per_cm_column_are_refused_as_implausible(htpmd):
    # the paper's Fig. 4 values (mS/cm) written into the S/cm column by mistake
    frame = _with(htpmd, conductivity_S_per_cm=[1.1, 1.5])
    with pytest.raises(DataIntegrityError, match=r"above 0.01 S/cm .* 201 .* are these "
                                                 r"values in mS/cm\?"):
        train_surrogate(frame, FAST)


def test_a_conductivity_column_without_its_unit_is_refused(htpmd):
    for name in ("conductivity", "conductivity_mS/cm", "ionic_conductivity_S_per_m"):
        frame = _with(htpmd, conductivity_S_per_cm=[1e-3, 1e-3], **{name: [1.0, 1.5]})
        with pytest.raises(DataIntegrityError, match=f"column '{name}' looks like a "
                                                     "conductivity .* S_per_cm"):
            train_surrogate(frame, FAST)
    frame = _with(htpmd, conductivity_S_per_cm=[1e-3, 1e-3], li_diffusivity_m2_per_s=[1, 1])
    with pytest.raises(DataIntegrityError, match="looks like a diffusivity .* cm2_per_s"):
        train_surrogate(frame, FAST)


def test_mS_and_S_columns_that_disagree_are_refused(htpmd):
    frame = _with(htpmd, conductivity_S_per_cm=[1.1e-3, 1.5e-3],
                  conductivity_mS_per_cm=[1.1e-3, 1.5e-3])
    with pytest.raises(DataIntegrityError, match="not 1000 x conductivity_S_per_cm"):
        train_surrogate(frame, FAST)


def test_non_positive_or_text_conductivities_are_refused(htpmd):
    with pytest.raises(DataIntegrityError, match="must be positive .* 201 "):
        train_surrogate(_with(htpmd, conductivity_S_per_cm=[1e-3, -2e-4]), FAST)
    with pytest.raises(DataIntegrityError, match="are not numbers"):
        train_surrogate(_with(htpmd, conductivity_S_per_cm=["1e-3", "fast"]), FAST)


def test_rows_without_a_value_are_skipped_and_counted(htpmd):
    model = train_surrogate(_with(htpmd, conductivity_S_per_cm=[np.nan, 1.5e-3]), FAST)
    assert model.provenance["rows_without_value"] == {"conductivity_S_per_cm": 1}
    assert model.provenance["rows_per_target"]["log10_conductivity"] == _valid(htpmd) + 1


def test_config_refuses_unknown_kind_and_target():
    with pytest.raises(PolyhpcError, match="unknown surrogate kind 'forest'"):
        SurrogateConfig(kind="forest")
    with pytest.raises(PolyhpcError, match="unknown target.*log10_density"):
        SurrogateConfig(targets=("log10_density",))
