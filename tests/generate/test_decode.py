import pytest
import torch

from polyhpc.errors import ModelError
from polyhpc.generate.dataset import SequenceBatches
from polyhpc.generate.decode import BudgetState, TokenTable
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.sample import (
    SampleConfig,
    draw_lengths,
    generate_candidates,
    sample_smiles,
)
from polyhpc.generate.tokenizer import SmilesTokenizer, split_smiles, unit_length
from polyhpc.generate.train import TrainConfig, run_training

LONG = "*CCCCCCCCCCCCCO*"  # 14 unit tokens
UNITS = {1: ["*CCO*", "*CC(C)O*", LONG, "*CC(F)O*", "*COO*", "*CCOO*"], 0: ["*CCN(C)CCCCS*"]}


def _overfit(countdown: bool):
    torch.manual_seed(0)
    smiles = [s for label in UNITS for s in UNITS[label]]
    labels = [label for label in UNITS for _ in UNITS[label]]
    tokenizer = SmilesTokenizer.from_corpus(smiles)
    model = GPT(GPTConfig(len(tokenizer), block_size=32, n_layer=2, n_head=2, n_embd=32,
                          dropout=0.0, length_embedding=24 if countdown else 0))
    batches = SequenceBatches(tokenizer, smiles, labels, 5, 32, countdown=countdown)
    run_training(model, batches, TrainConfig(max_iters=400, batch_size=32, learning_rate=3e-3),
                 torch.device("cpu"))
    return model, tokenizer


@pytest.fixture(scope="module")
def plain():
    return _overfit(countdown=False)


@pytest.fixture(scope="module")
def countdown():
    return _overfit(countdown=True)


def test_remaining_length_counts_down_over_unit_tokens_only():
    tokenizer = SmilesTokenizer.from_corpus(["*CCO*", "*CC(C)O*"])
    batches = SequenceBatches(tokenizer, ["*CCO*", "*CC(C)O*"], [1, 0], 5, 32, countdown=True)
    # inputs: five class tokens, then * C C O * (the end token is never an input)
    assert batches.remaining[0].tolist() == [3, 3, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0, 0]
    # *CC(C)O*: C C ( C ) O count, the end markers do not
    assert batches.remaining[1].tolist() == [6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1, 0, 0]
    x, y, extras = batches.collate([0])
    assert extras["remaining"].shape == x.shape == (1, 10)


def test_length_prompt_puts_the_unit_length_after_the_class_tokens():
    tokenizer = SmilesTokenizer.from_corpus(["*CCO*", "*CC(C)O*"], n_lengths=8)
    sequence = tokenizer.encode_training("*CC(C)O*", 1)
    assert tokenizer.itos[sequence[5]] == "<len6>"
    assert tokenizer.decode(sequence) == "*CC(C)O*"
    assert tokenizer.prompt("11111", 3)[-1] == tokenizer.stoi["<len3>"]
    assert tokenizer.length_id(30) == tokenizer.stoi["<len7>"]  # longer units share the last
    batches = SequenceBatches(tokenizer, ["*CCO*"], [1], 5, 32)
    # neither the class tokens nor the length token are targets
    assert batches.targets[0, :5].tolist() == [-1] * 5
    assert tokenizer.itos[int(batches.targets[0, 5])] == "*"


def test_budget_state_allows_only_tokens_that_can_still_close_in_time():
    tokenizer = SmilesTokenizer.from_corpus(["*CC(C)O*", "*C1CC1*", "*C=C*"])
    table = TokenTable(tokenizer, torch.device("cpu"))
    state = BudgetState(1, table, torch.device("cpu"))
    for token in split_smiles("*CC("):
        state.update(torch.tensor([tokenizer.stoi[token]]))
    allowed = state.allowed(torch.tensor([5]))[0]
    names = {tokenizer.itos[i] for i in torch.nonzero(allowed).squeeze(1).tolist()}
    # used 3 of 5 (C, C, '('): the open branch needs an atom and ')', so no new branch,
    # ring or bond fits; end markers and the end token cost nothing
    assert names == {"C", "O", ")", "*", "<eos>"}
    state.update(torch.tensor([tokenizer.stoi["C"]]))
    allowed = state.allowed(torch.tensor([5]))[0]
    names = {tokenizer.itos[i] for i in torch.nonzero(allowed).squeeze(1).tolist()}
    assert names == {")", "*", "<eos>"}  # one token left: it must close the branch


def test_budget_decoding_ends_every_row_within_the_budget(plain):
    model, tokenizer = plain
    generator = torch.Generator().manual_seed(0)
    free = sample_smiles(model, tokenizer, "11111", 300, generator=generator)
    assert LONG in free  # the model writes its 14-token unit when free to
    generator = torch.Generator().manual_seed(0)
    rows = sample_smiles(model, tokenizer, "11111", 300, max_new_tokens=8, budget=5,
                         generator=generator)
    assert all(row is not None for row in rows)
    assert max(unit_length(split_smiles(row)) for row in rows) <= 5
    assert all(row.count("*") <= 2 for row in rows)


def test_budget_decoding_turns_too_long_rows_into_candidates(plain):
    model, tokenizer = plain
    known = {"*CCO*", "*CC(C)O*", "*CC(F)O*", "*COO*", "*CCOO*"}
    reject = generate_candidates(model, tokenizer, known, known,
                                 SampleConfig(n=1, max_tokens=6, max_draws=400, seed=1))
    budget = generate_candidates(model, tokenizer, known, known,
                                 SampleConfig(n=1, max_tokens=6, max_draws=400, seed=1,
                                              decoding="budget"))
    assert not reject.reached and reject.rejected["too long"] > 0
    assert budget.reached and "too long" not in budget.rejected
    assert unit_length(split_smiles(budget.candidates[0].smiles)) <= 6


def test_countdown_model_writes_the_length_it_is_asked_for(countdown):
    model, tokenizer = countdown
    generator = torch.Generator().manual_seed(0)
    short = sample_smiles(model, tokenizer, "11111", 200, lengths=torch.full((200,), 3),
                          generator=generator)
    long = sample_smiles(model, tokenizer, "11111", 200, lengths=torch.full((200,), 14),
                         generator=generator)
    assert sum(s is not None and unit_length(split_smiles(s)) == 3 for s in short) > 180
    assert long.count(LONG) > 180
    with pytest.raises(ModelError, match="conditioned on unit length: give lengths"):
        sample_smiles(model, tokenizer, "11111", 2)


def test_stability_screen_rejections_are_counted_by_rule(plain):
    model, tokenizer = plain
    known = {"*CCO*", "*CC(C)O*", "*CC(F)O*"}
    report = generate_candidates(model, tokenizer, known, known,
                                 SampleConfig(n=2, max_draws=400, stability=True))
    # the two novel short units are both peroxides (*COO*, *CCOO*)
    assert report.rejected["unstable: peroxide"] > 0 and not report.candidates
    unscreened = generate_candidates(model, tokenizer, known, known,
                                     SampleConfig(n=2, max_draws=400))
    assert {c.canonical for c in unscreened.candidates} == {"*COO*", "*CCOO*"}


def test_requested_lengths_must_fit_the_token_limit(countdown):
    from polyhpc.errors import ConfigError

    model, tokenizer = countdown
    with pytest.raises(ConfigError, match=r"lengths \[3, 12\]: each must be 1 .. max_tokens"):
        generate_candidates(model, tokenizer, set(), set(), SampleConfig(lengths=(3, 12)))
    report = generate_candidates(model, tokenizer, {"*CCO*"}, {"*CCO*"},
                                 SampleConfig(n=1, lengths=(4,), max_draws=200))
    assert report.reached and report.candidates[0].smiles == "*CCOO*"  # its 4-token unit


def test_dropout_sampling_is_seeded_and_leaves_the_model_mode_alone():
    torch.manual_seed(0)
    tokenizer = SmilesTokenizer.from_corpus(["*CCO*"])
    model = GPT(GPTConfig(len(tokenizer), block_size=16, n_layer=1, n_head=1, n_embd=8,
                          dropout=0.5))
    model.eval()
    draws = [sample_smiles(model, tokenizer, "11111", 50, max_new_tokens=6, dropout=True,
                           generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert draws[0] == draws[1]
    assert not model.training
    before = torch.random.get_rng_state()
    sample_smiles(model, tokenizer, "11111", 5, dropout=True,
                  generator=torch.Generator().manual_seed(3))
    assert torch.equal(before, torch.random.get_rng_state())  # the caller's RNG is untouched
    eval_draws = sample_smiles(model, tokenizer, "11111", 50, max_new_tokens=6,
                               generator=torch.Generator().manual_seed(3))
    assert eval_draws != draws[0]


def test_lengths_are_drawn_uniformly_or_by_weight():
    generator = torch.Generator().manual_seed(0)
    lengths = draw_lengths(4000, (2, 5), generator)
    assert set(lengths.tolist()) == {2, 5}
    assert abs(int((lengths == 2).sum()) - 2000) < 200
    weighted = draw_lengths(4000, {3: 3, 9: 1}, generator)
    assert abs(int((weighted == 3).sum()) - 3000) < 200


def test_shipped_generator_configs_load_and_only_paper_length_is_length_conditioned():
    from polyhpc.config import load_config
    from polyhpc.generate.train import GeneratorConfig
    from polyhpc.resources import shipped

    configs = {name: load_config(path, GeneratorConfig) for name, path in
               shipped("generator").items()}
    assert {"paper", "paper-length", "smoke"} <= set(configs)
    assert configs["paper-length"].train.length_conditioning == "countdown"
    assert configs["paper"].train.length_conditioning == "none"
    # the same training as the paper's otherwise
    paper, length = configs["paper"], configs["paper-length"]
    assert paper.data == length.data and paper.train.max_iters == length.train.max_iters == 6000
