"""Training side of edge-landmarks (needs torch): teacher model, training, evaluation, export."""
