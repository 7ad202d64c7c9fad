"""A tiny Kosmos-2 and an offline tokenizer, saved in Hugging Face format for tests and CPU benchmarks.

Nothing is downloaded: the tokenizer is a Unigram model trained with the ``tokenizers`` library on the
bench's instruction vocabulary and wrapped in transformers' ``XLMRobertaTokenizer`` (the class of the
real Kosmos-2 tokenizer), with Kosmos-2's tag tokens (``<image>``, ``</image>``, ``<grounding>``, ...)
added the way ``Kosmos2Processor`` adds them. The model is a scaled-down ``Kosmos2Config``. Both are
written with ``save_pretrained`` so the tiny and the full model load through the same code path.

CLI: ``python -m policies.vla.tiny --out .vlms/tiny-kosmos-2``.
"""

from __future__ import annotations

import argparse
import json
import math
import string
from collections import Counter
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
"""XLM-R order: bos 0, pad 1, eos 2, unk 3 (``XLMRobertaTokenizer`` hard-codes unk id 3), mask 4."""

KOSMOS_TAG_TOKENS = (
    "</doc>",
    "<image>",
    "</image>",
    "</chunk>",
    "</line>",
    "<phrase>",
    "</phrase>",
    "<object>",
    "</object>",
    "</delimiter_of_multi_objects/>",
    "<grounding>",
)
"""The tag tokens ``Kosmos2Processor`` adds to the tokenizer (its 1024 patch-index tokens are left out)."""

INSTRUCTION_CORPUS = (
    "Navigate around obstacles and reach the front of the beverage bottle on the left",
    "Navigate around obstacles and reach the front of the beverage bottle on the right",
    "Navigate to the left toward the gray basket",
    "Navigate to the right toward the gray basket",
    "Navigate straight toward the gray basket",
    "Navigate to the center toward the gray basket",
    "Go around the brown pot and stop in front of the target",
    "Move forward and stop",
    "An image of a robot",
)
"""The real instructions (2025 bottle, 2026 basket) and the prompt words the tokenizer must cover."""

TINY_SIZES: dict[str, Any] = {
    "text_embed_dim": 64,
    "text_layers": 2,
    "text_ffn_dim": 128,
    "text_heads": 4,
    "max_positions": 256,
    "vision_hidden": 32,
    "vision_intermediate": 64,
    "vision_layers": 2,
    "vision_heads": 2,
    "image_size": 56,
    "patch_size": 14,
    "latent_query_num": 8,
}
"""Default tiny dimensions: ~0.13 M parameters, about a millisecond per frame on a CPU core."""


def build_tokenizer(corpus: tuple[str, ...] | list[str] = INSTRUCTION_CORPUS) -> Any:
    """An ``XLMRobertaTokenizer`` whose Unigram vocabulary is trained offline on ``corpus``.

    The ``tokenizers`` Unigram trainer, on a corpus of a few sentences, prunes down to characters and
    short fragments; so every whole corpus word is added as a piece scored by its log corpus frequency,
    which makes known words single tokens while unseen words still split into trained pieces/characters.
    """
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import XLMRobertaTokenizer

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    alphabet = list(string.ascii_letters + string.digits + string.punctuation)
    trainer = trainers.UnigramTrainer(
        vocab_size=200,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token="<unk>",
        show_progress=False,
        initial_alphabet=alphabet,
        max_piece_length=16,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    import json

    trained = [(str(p), float(s)) for p, s in json.loads(tok.to_str())["model"]["vocab"]]
    if [p for p, _ in trained[: len(SPECIAL_TOKENS)]] != list(SPECIAL_TOKENS):
        raise RuntimeError(f"Unigram trainer put special tokens out of order: {trained[:5]}")
    words = Counter("▁" + w for line in corpus for w in line.split())
    total = sum(words.values())
    pieces = {p for p, _ in trained}
    extra = [(w, math.log(n / total)) for w, n in sorted(words.items()) if w not in pieces]
    known_chars = {p for p, _ in trained if len(p) == 1}
    chars = [(c, -20.0) for c in alphabet if c not in known_chars]
    vocab = trained + extra + chars
    tokenizer = XLMRobertaTokenizer(vocab=vocab)
    tokenizer.add_tokens(
        [AddedToken(t, lstrip=True, rstrip=False, normalized=False) for t in KOSMOS_TAG_TOKENS]
    )
    return tokenizer


def tiny_kosmos_config(vocab_size: int, **sizes: Any) -> Any:
    """A scaled-down ``Kosmos2Config`` (see ``TINY_SIZES`` for the keys ``sizes`` may override)."""
    from transformers import Kosmos2Config

    unknown = set(sizes) - set(TINY_SIZES)
    if unknown:
        raise KeyError(f"unknown tiny size(s) {sorted(unknown)}; known: {sorted(TINY_SIZES)}")
    s = {**TINY_SIZES, **sizes}
    return Kosmos2Config(
        text_config={
            "vocab_size": vocab_size,
            "embed_dim": s["text_embed_dim"],
            "layers": s["text_layers"],
            "ffn_dim": s["text_ffn_dim"],
            "attention_heads": s["text_heads"],
            "max_position_embeddings": s["max_positions"],
            "dropout": 0.0,
            "attention_dropout": 0.0,
            # 0.02 (the full model's init) makes a 64-wide random LM wash its inputs out; ~1/sqrt(width)
            # keeps instruction and image differences visible at the action token from the start.
            "init_std": round(s["text_embed_dim"] ** -0.5, 4),
        },
        vision_config={
            "hidden_size": s["vision_hidden"],
            "intermediate_size": s["vision_intermediate"],
            "num_hidden_layers": s["vision_layers"],
            "num_attention_heads": s["vision_heads"],
            "image_size": s["image_size"],
            "patch_size": s["patch_size"],
        },
        latent_query_num=s["latent_query_num"],
    )


def build_tiny_backbone(out_dir: str | Path, seed: int = 0, overwrite: bool = False, **sizes: Any) -> Path:
    """Build the tiny Kosmos-2 (weights from ``seed``) and its tokenizer, and save both to ``out_dir``.

    Written to a temporary sibling directory first, then moved into place. Raises ``FileExistsError``
    when ``out_dir`` exists and ``overwrite`` is false.
    """
    import torch
    from transformers import Kosmos2ForConditionalGeneration

    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True to rebuild the tiny backbone")
    tokenizer = build_tokenizer()
    config = tiny_kosmos_config(len(tokenizer), **sizes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Kosmos2ForConditionalGeneration(config)
    from common.files import atomic_directory

    with atomic_directory(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / RECIPE_FILE).write_text(json.dumps(_recipe(seed, sizes)))
    return out


RECIPE_FILE = "mvla_tiny_recipe.json"
TINY_RECIPE_VERSION = 2
"""Bump when ``tiny_kosmos_config`` or the weight initialisation changes: stale copies get rebuilt."""


def _recipe(seed: int, sizes: dict[str, Any] | None = None) -> dict[str, Any]:
    recipe: dict[str, Any] = {"version": TINY_RECIPE_VERSION, "seed": int(seed)}
    if sizes:
        recipe["sizes"] = {k: sizes[k] for k in sorted(sizes)}
    return recipe


def _is_current(path: Path, seed: int, sizes: dict[str, Any] | None = None) -> bool:
    try:
        return json.loads((path / RECIPE_FILE).read_text()) == _recipe(seed, sizes)
    except (OSError, ValueError):
        return False


def ensure_tiny_backbone(path: str | Path, seed: int = 0, sizes: dict[str, Any] | None = None) -> Path:
    """Build the tiny backbone at ``path`` (``sizes`` override ``TINY_SIZES``) unless a copy of the same
    recipe is already there (a copy from another recipe is rebuilt; a second process racing to build it
    is harmless: both write the same deterministic weights, the last rename wins)."""
    p = Path(path)
    sizes = dict(sizes or {})
    if not _is_current(p, seed, sizes):  # unknown size names raise in tiny_kosmos_config, before any write
        try:
            build_tiny_backbone(p, seed=seed, overwrite=p.exists(), **sizes)
        except OSError:
            if not (p / "config.json").is_file():
                raise
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".vlms/tiny-kosmos-2", help="output directory (HF format)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    from common.cli import run_main
    from policies.vla.config import resolve_path

    def body() -> None:
        out = resolve_path(args.out)
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to rebuild the tiny backbone")
        build_tiny_backbone(out, seed=args.seed, overwrite=args.overwrite)
        print(f"wrote tiny Kosmos-2 and tokenizer to {out}")

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
