import pytest

from polyhpc.data import load_htpmd_train
from polyhpc.errors import ModelError
from polyhpc.generate.config import ExtraUnits, TrainingSetConfig
from polyhpc.generate.dataset import build_training_set
from polyhpc.generate.tokenizer import SmilesTokenizer, class_token, split_smiles


@pytest.fixture(scope="module")
def frame():
    return load_htpmd_train()


def test_tokenizer_round_trips_every_training_smiles_exactly(frame):
    tokenizer = SmilesTokenizer.from_corpus(frame["smiles"])
    for smiles in frame["smiles"]:
        assert "".join(split_smiles(smiles)) == smiles
        assert tokenizer.decode(tokenizer.encode_training(smiles, 1)) == smiles


def test_tokens_are_atom_level_and_class_tokens_are_not_digits():
    assert split_smiles("*C1CC[N+](C)(Cl)C%10C1*") == [
        "*", "C", "1", "C", "C", "[N+]", "(", "C", ")", "(", "Cl", ")", "C", "%10", "C", "1", "*"]
    tokenizer = SmilesTokenizer.from_corpus(["*C1CCC1*"])
    assert tokenizer.prompt("11111") == [tokenizer.stoi[class_token(1)]] * 5
    assert tokenizer.stoi[class_token(1)] != tokenizer.stoi["1"]
    sequence = tokenizer.encode_training("*C1CCC1*", 0)
    assert sequence[:5] == [tokenizer.stoi["<class0>"]] * 5 and sequence[-1] == tokenizer.eos_id


def test_unknown_prompt_tokens_give_one_clear_error():
    tokenizer = SmilesTokenizer.from_corpus(["*CCO*"])
    with pytest.raises(ModelError, match="prompt token '2' is not a class of this model"):
        tokenizer.prompt("11211")


def test_oversampled_set_has_equal_classes_and_4000_peo_copies(frame):
    dataset = build_training_set(frame, TrainingSetConfig())
    labels = list(dataset.labels)
    smiles = list(dataset.smiles)
    peo = smiles.count("*CCO*")
    assert peo == 4000
    assert "*CCO*" not in set(frame["smiles"])  # all PEO copies are the added ones
    high = sum(labels) - peo
    low = len(labels) - sum(labels)
    assert high == low
    summary = dataset.summary
    assert summary["extra_copies"] == {"*CCO*": 4000}
    assert summary["class_counts"] == {"0": low, "1": high + peo}
    # the validation split is held out before oversampling
    assert not set(dataset.validation_smiles) & set(smiles)
    assert len(dataset.validation_smiles) == round(0.05 * 6024)


def test_oversampling_and_extras_can_be_switched_off(frame):
    dataset = build_training_set(frame, TrainingSetConfig(oversample=False, extra=(),
                                                          validation_fraction=0.0))
    assert len(dataset.smiles) == 6024
    assert sum(dataset.labels) == 302
    twice = build_training_set(frame, TrainingSetConfig(extra=(ExtraUnits("*OCC*", 10, 0),)))
    assert twice.summary["extra_copies"] == {"*OCC*": 10}


def test_the_paper_config_keeps_the_authors_length_rule_8_body_tokens_not_10():
    from polyhpc.campaign.config import load_campaign_config
    from polyhpc.generate.sample import too_long
    from polyhpc.generate.tokenizer import split_smiles, unit_length

    paper = load_campaign_config("paper").sampling
    eight, nine, ten = "*COCCOCCO*", "*COCCOCCOC*", "*CCOCCOCCOC*"
    assert [unit_length(split_smiles(s)) for s in (eight, nine, ten)] == [8, 9, 10]
    # "10 or fewer tokens": the authors counted the two end markers among the 10
    assert paper.max_tokens == 10 and paper.token_count == "with-ends"
    assert not too_long(eight, paper) and too_long(nine, paper) and too_long(ten, paper)
    # counting the body alone (polyhpc's default, the laptop) keeps 10 body tokens: declared
    laptop = load_campaign_config("laptop").sampling
    assert laptop.token_count == "body" and not too_long(ten, laptop)
    assert too_long("*CCOCCOCCOCC*", laptop)
