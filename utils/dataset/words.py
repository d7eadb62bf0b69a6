"""The task's vocabulary and clip format."""

# The 30 words of Google Speech Commands v0.01, in the competition's column order.
WORDS = (
    "bed bird cat dog down eight five four go happy house left marvin nine no "
    "off on one right seven sheila six stop three tree two up wow yes zero"
).split()
N_WORDS = len(WORDS)
WORDS_PER_CLIP = 4
SAMPLE_RATE = 16_000
CLIP_SAMPLES = SAMPLE_RATE  # every clip is 1 s
