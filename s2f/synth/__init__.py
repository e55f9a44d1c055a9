"""Synthetic talking-face corpus: speakers, voices, drawn faces, rendered clips."""
