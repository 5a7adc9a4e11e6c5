// Pipelines the grammar tests share: valid ones for round-trips, and seeds for the fuzzer.

export const pickscorePipeline = `# pipelines/pickscore.vpl: VADER, VideoCrafter2 aligned with PickScore
pipeline pickscore
extends "base.vpl"                     # optional: inherit and override another pipeline

model videocrafter2 {
  weights = "checkpoints/videocrafter2/model.ckpt"
  frames  = 12
  size    = 320x512                    # height x width
  fps     = 24
}

lora { rank = 16  targets = [attn.q, attn.k, attn.v] }

prompts = animals                      # a stdlib prompt set, or "my_prompts.txt"

sampler ddim { steps = 25  eta = 1.0  guidance = 12.0 }

objective reward {
  reward   = 1.0 * pickscore           # a weighted mix: 1.0 * hps + 0.5 * aesthetic
  decode   = random(1)                 # random(k), frame(i), every(n), all
  backprop = last(1)                   # last(k), random, all
}

train {
  optimizer  = adamw { lr = 2e-4  weight_decay = 0.01 }
  steps      = 450
  accumulate = 8
  seed       = 42
  validate every 80 steps with 4 prompts
  checkpoint every 8 steps keep 5
}
`;

export const inlineSamples: Record<string, string> = {
  pickscore: pickscorePipeline,
  empty: '',
  commentsOnly: '# just a comment\n\n# and another\n',
  expressions: `x = 1 + 2 * 3 - -4 / (5 - 6)
y = (1 + 2) * 3
z = a - (b - c)
w = 2 * (3 * 4)
u = - - 1
v = [1, "two", 3x4, 16x320x512, true, false, attn.q, f(), g(1, k = 2,), [], [[1], [2,]]]
`,
  numbers: 'a = 2e-4\nb = 1E+3\nc = .5\nd = 2s\ne = 500ms\nf = 24fps\ng = 90%\nh = 2k\ni = 1M\nj = 3min\nk = 1.5h\n',
  strings: 's = "quote \\" backslash \\\\ newline \\n tab \\t emoji \\u{1F600} plain"\nt = ""\nextends "a b.vpl"\n',
  keywordsAsNames: `pipeline every
every = 1
with.keep = extends
decode = every(2)
keep { with = keep }
pipeline { true = false }
`,
  clauses: `train {
  validate every 80 steps with 4 prompts
  checkpoint every 8 steps keep 5
  log every 10
  sample every 2s keep 3 videos
}
`,
  objects: `train {
  optimizer = adamw { lr = 2e-4 }
  big = adamw { a = 1  b = 2  c = 3  d = 4 }
  nested = outer { inner = x { y = 1 } }
  empty = nothing {}
  commented = adamw {
    # why this rate
    lr = 1e-3 # trailing
    # dangling in object
  }
  listed = [a { b = 1 }, c]
}
`,
  semicolons: 'a = 1; b = 2;\nlora { rank = 4; alpha = 4 }\n',
  blankLines: `# header comment

pipeline p


a = 1

# detached comment

b = 2
train {

  c = 3


  d = 4
  # dangling

  # after blank
}
`,
  multiLine: `x = [
  1, # one
  2,
  3
]
mix = 1.0 * hps
  + 0.5 * aesthetic
call = huber(
  c = 0.001
)
`,
  emptyBlocks: 'lora {}\ntrain { }\nmodel x {\n  # only a comment\n}\n',
};
