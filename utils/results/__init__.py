"""What a run leaves for people: figures, the HTML report, the submission file."""
