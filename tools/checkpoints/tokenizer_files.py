#!/usr/bin/python3
"""A small CLIP-style BPE vocabulary of our own, in the three file layouts vplc reads.

Not OpenAI's vocabulary: a few hundred merges learnt here from our own sentences. The id
layout follows the real one (open_clip src/open_clip/tokenizer.py, SimpleTokenizer): the 256
byte characters of GPT-2's bytes_to_unicode in its order, the same 256 with '</w>', one token
per merge (its two halves joined), then <|startoftext|> and <|endoftext|>; so the vocabulary
has 512 + merges + 2 entries and the end token has the largest id, as 49407 does in the real one.

Layouts:
- Hugging Face: tokenizer.json (the fast tokenizer, as transformers' CLIPConverter lays it out:
  NFC + whitespace + lowercase normaliser, CLIP's split regex then ByteLevel, RobertaProcessing,
  BPE with end_of_word_suffix '</w>'), vocab.json + merges.txt ('#version: 0.2' header), and
  tokenizer_config.json + special_tokens_map.json naming the pad token;
- open_clip: bpe_simple_vocab_16e6.txt.gz (a header line, then one merge per line, gzipped).

    /usr/bin/python3 tools/checkpoints/tokenizer_files.py --out DIR [--pad '!'] [--merges N]
"""

import argparse
import gzip
import json
import os
import sys

START, END, EOW = "<|startoftext|>", "<|endoftext|>", "</w>"
# The split regex of CLIP's tokenizer.json (and open_clip's SimpleTokenizer, without its
# case-insensitive flag: text is lowercased first).
PRETOKENIZE = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"
DEFAULT_MERGES = 400

# Our own sentences (video prompts in this project's style); the training corpus.
CORPUS = """
a red circle moving left on a dark blue background
a small green square growing slowly in the middle of the frame
a yellow star spinning quickly over a black background
an orange triangle sliding down toward the bottom edge
a purple diamond bouncing between the walls of a grey room
a bright cyan hexagon shrinking until it disappears
two white crosses drifting apart on a brown background
a fox running through fresh snow at the edge of a quiet forest
a brown dog chasing a ball across a green garden in the morning
a cat sleeping in a sunny window while rain falls outside
a flock of birds flying over a calm lake at sunset
a horse galloping along a sandy beach under a cloudy sky
a turtle swimming slowly over a coral reef full of fish
a child flying a kite on a windy hill in spring
a woman riding a bicycle down a busy street in the evening
a man playing the guitar beside a camp fire at night
an old train crossing a stone bridge in the mountains
a paper boat floating down a stream after the storm
a hot air balloon rising above green fields at dawn
waves rolling onto the shore as the tide comes in
snow falling softly on the roofs of a sleeping village
the camera slowly moving forward through a field of tall grass
the camera turning around a glass of water on a wooden table
a timelapse of clouds moving over the city skyline
fireworks bursting in the night sky above the river
a candle flame flickering in a dark room
leaves falling from the trees in an autumn park
a robot walking across a red desert toward the mountains
a spaceship landing on the surface of a distant planet
a painting of a lighthouse standing on a rocky coast
a watercolor of a garden with blooming flowers in the rain
a close up of a bee landing on a yellow flower
a dancer spinning on a stage under bright lights
people walking through a crowded market on a sunny day
a cup of coffee steaming on a table by the window
a river flowing between green hills under a blue sky
"""


def byte_characters():
    """GPT-2 / CLIP bytes_to_unicode, as the vocabulary orders it: the printable Latin-1 bytes
    ('!'..'~', '¡'..'¬', '®'..'ÿ') as themselves, then the other 68 bytes as U+0100.. in byte order."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = {b: chr(b) for b in printable}
    n = 0
    order = list(printable)
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + n)
            n += 1
            order.append(b)
    return [chars[b] for b in order]


def corpus_words(text: str = CORPUS):
    return [w for line in text.split("\n") for w in line.split() if w]


def train_merges(words, count: int):
    """Greedy BPE on `words` (one symbol list per occurrence, '</w>' on the last character):
    the most frequent adjacent pair is merged (ties: the smallest pair as text), stopping at
    `count` merges or when every word is one token. A pair whose joined string is already a token
    is skipped, so every merge adds one new token and ids stay unique."""
    corpus = []
    for w in words:
        symbols = list(w)
        symbols[-1] += EOW
        corpus.append(symbols)
    tokens = set(byte_characters())
    tokens |= {c + EOW for c in tokens}
    merges = []
    while len(merges) < count:
        counts = {}
        for s in corpus:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        candidates = sorted(((-c, f"{a} {b}"), (a, b)) for (a, b), c in counts.items() if a + b not in tokens)
        if not candidates:
            break
        a, b = candidates[0][1]
        merges.append(f"{a} {b}")
        tokens.add(a + b)
        next_corpus = []
        for s in corpus:
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            next_corpus.append(out)
        corpus = next_corpus
    return merges


def vocabulary(merges):
    """token -> id in the real layout."""
    chars = byte_characters()
    tokens = chars + [c + EOW for c in chars] + [m.replace(" ", "") for m in merges] + [START, END]
    return {t: i for i, t in enumerate(tokens)}


def _added(vocab, content):
    return {"id": vocab[content], "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}


def tokenizer_json(merges) -> dict:
    vocab = vocabulary(merges)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added(vocab, START), _added(vocab, END)],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "Lowercase"}]},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PRETOKENIZE}, "behavior": "Removed", "invert": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {"type": "RobertaProcessing", "sep": [END, vocab[END]], "cls": [START, vocab[START]], "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": END, "continuing_subword_prefix": "", "end_of_word_suffix": EOW, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": list(merges)},
    }


def tokenizer_config(pad: str) -> dict:
    return {
        "add_prefix_space": False,
        "bos_token": START,
        "do_lower_case": True,
        "eos_token": END,
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": pad,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": END,
    }


def special_tokens_map(pad: str) -> dict:
    return {"bos_token": START, "eos_token": END, "pad_token": pad, "unk_token": END}


def _write(path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_hf(folder: str, merges, pad: str = END, fast: bool = True):
    """The Hugging Face files; `fast` adds tokenizer.json. Returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    files = {
        "vocab.json": json.dumps(vocabulary(merges), ensure_ascii=False),
        "merges.txt": "\n".join(["#version: 0.2", *merges]) + "\n",
        "tokenizer_config.json": json.dumps(tokenizer_config(pad), indent=2),
        "special_tokens_map.json": json.dumps(special_tokens_map(pad), indent=2),
    }
    if fast:
        files["tokenizer.json"] = json.dumps(tokenizer_json(merges), ensure_ascii=False)
    for name, text in files.items():
        _write(os.path.join(folder, name), text)
    return [os.path.join(folder, name) for name in files]


OPEN_CLIP_FILE = "bpe_simple_vocab_16e6.txt.gz"


def write_open_clip(folder: str, merges) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, OPEN_CLIP_FILE)
    text = "\n".join(['"bpe_simple_vocab_16e6.txt#version: 0.2', *merges]) + "\n"
    # mtime=0: the same merges give the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(text.encode("utf-8"))
    return path


def default_merges(count: int = DEFAULT_MERGES):
    return train_merges(corpus_words(), count)


def padded_merges(vocab_size: int = 49408):
    """Our merges, then filler merges ('qab z', ...) until the vocabulary has `vocab_size` ids
    (512 byte tokens + merges + 2 specials) and the end token is `vocab_size - 1`, as 49407 is in
    the real one: what a text tower's 49,408-row embedding is indexed with."""
    merges = default_merges()
    need = vocab_size - 512 - 2 - len(merges)
    filler = [f"q{''.join('abcdefghij'[int(d)] for d in str(i))} z" for i in range(need)]
    return merges + filler


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--format", choices=["all", "hf", "hf-slow", "open_clip"], default="all")
    p.add_argument("--pad", default=END, help="the pad token tokenizer_config.json names (default the end token)")
    p.add_argument("--merges", type=int, default=DEFAULT_MERGES, help="how many merges to learn at most")
    args = p.parse_args(argv)
    merges = default_merges(args.merges)
    written = []
    if args.format in ("all", "hf", "hf-slow"):
        written += write_hf(args.out, merges, args.pad, fast=args.format != "hf-slow")
    if args.format in ("all", "open_clip"):
        written.append(write_open_clip(args.out, merges))
    vocab = vocabulary(merges)
    json.dump({"files": written, "merges": len(merges), "vocab_size": len(vocab), "start_id": vocab[START], "end_id": vocab[END], "words": sorted(set(corpus_words()))}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
