"""Evaluate: confusion matrix, per-class metrics, an image gallery and the embedding map."""
