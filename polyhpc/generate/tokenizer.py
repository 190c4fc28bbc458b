"""Atom-level SMILES tokenizer with property-class tokens.

Tokens follow the regular expression of Schwaller et al., ACS Cent. Sci. 5,
1572 (2019), DOI 10.1021/acscentsci.9b00576: bracket atoms, two-letter
elements, ring-bond digits and ``%nn``, bonds, branches, and the ``*`` end
marker. Property classes have their own tokens (``<class0>``, ``<class1>``),
never the digit tokens used for ring bonds; so do unit lengths (``<len7>``)
for a model conditioned on length through its prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from polyhpc.errors import ModelError

SMILES_PATTERN = re.compile(
    r"(\[[^\]]+\]|Br|Cl|Si|Se|%\d{2}|[BCNOPSFIbcnops]|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|\d)"
)
PAD, EOS = "<pad>", "<eos>"


def class_token(label: int) -> str:
    """The token of property class ``label``."""
    return f"<class{label}>"


def length_token(n_tokens: int) -> str:
    """The prompt token asking for a unit of ``n_tokens`` tokens."""
    return f"<len{n_tokens}>"


def unit_length(tokens: Iterable[str]) -> int:
    """Tokens of a repeat unit that count towards its length: all but the end markers.

    The paper's limit (Khajeh et al. 2025, section 3.1: "10 or fewer tokens,
    excluding the end tokens") is on this number; ``*CCO*`` has 3.
    """
    return sum(token != "*" for token in tokens)


def split_smiles(smiles: str) -> list[str]:
    """Split a SMILES into tokens; raise if the tokens do not spell it back."""
    tokens = SMILES_PATTERN.findall(smiles)
    if "".join(tokens) != smiles:
        raise ModelError(f"cannot tokenize {smiles!r}: characters outside the SMILES alphabet")
    return tokens


class SmilesTokenizer:
    """Vocabulary of SMILES tokens, class tokens and specials.

    Index 0 is padding, 1 the end token, then class tokens, then length tokens
    (only for a model conditioned on length through its prompt), then SMILES
    tokens in sorted order, so a vocabulary built from the same data is identical.
    """

    def __init__(self, tokens: Iterable[str]):
        self.itos = list(tokens)
        self.stoi = {token: index for index, token in enumerate(self.itos)}
        if self.itos[:2] != [PAD, EOS]:
            raise ModelError("vocabulary must start with <pad>, <eos>")

    @classmethod
    def from_corpus(cls, smiles: Iterable[str], n_classes: int = 2,
                    n_lengths: int = 0) -> SmilesTokenizer:
        """Build the vocabulary from training SMILES.

        ``n_lengths`` > 0 adds the length tokens ``<len0>`` ... ``<len{n_lengths-1}>``
        (the last one stands for that length and any longer).
        """
        symbols = set()
        for item in smiles:
            symbols.update(split_smiles(item))
        return cls([PAD, EOS, *(class_token(c) for c in range(n_classes)),
                    *(length_token(n) for n in range(n_lengths)), *sorted(symbols)])

    @property
    def pad_id(self) -> int:
        """Index of the padding token."""
        return 0

    @property
    def eos_id(self) -> int:
        """Index of the end token."""
        return 1

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def n_lengths(self) -> int:
        """Number of length tokens (0 unless the model is length-prompted)."""
        return sum(token.startswith("<len") for token in self.itos)

    def length_id(self, n_tokens: int) -> int:
        """Id of the length token for a unit of ``n_tokens`` tokens (clamped to the last)."""
        if not self.n_lengths:
            raise ModelError("this model's prompt has no length field")
        return self.stoi[length_token(min(n_tokens, self.n_lengths - 1))]

    def encode_smiles(self, smiles: str) -> list[int]:
        """Token ids of a SMILES (no class prefix, no end token)."""
        ids = []
        for token in split_smiles(smiles):
            if token not in self.stoi:
                raise ModelError(f"token {token!r} of {smiles!r} is not in the vocabulary")
            ids.append(self.stoi[token])
        return ids

    def encode_training(self, smiles: str, label: int, prefix_length: int = 5) -> list[int]:
        """Class token x ``prefix_length``, [length token,] the SMILES, the end token."""
        length = unit_length(split_smiles(smiles)) if self.n_lengths else None
        return [*self.prompt([label] * prefix_length, length), *self.encode_smiles(smiles),
                self.eos_id]

    def prompt(self, labels: Iterable[int] | str, length: int | None = None) -> list[int]:
        """Token ids of a class prompt, e.g. ``"11111"`` or ``[1, 1, 1, 1, 1]``.

        A length-prompted vocabulary appends the length token of ``length``.
        """
        ids = []
        for label in labels:
            token = class_token(int(label)) if str(label).isdigit() else str(label)
            if token not in self.stoi:
                raise ModelError(f"prompt token {label!r} is not a class of this model "
                                 f"(classes: {', '.join(t for t in self.itos if 'class' in t)})")
            ids.append(self.stoi[token])
        if length is not None:
            ids.append(self.length_id(length))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """SMILES text of ids, stopping at the end token, skipping class tokens."""
        out = []
        for index in ids:
            if index == self.eos_id:
                break
            token = self.itos[index]
            if token.startswith("<"):
                continue
            out.append(token)
        return "".join(out)
