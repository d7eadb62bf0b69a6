"""Making a dataset: eSpeak NG voices or a folder-per-word corpus, mixed and written in the DACON layout."""
