"""Reading a DACON-layout data folder: clips and their decode cache, answer tables, the vocabulary, saved words."""
