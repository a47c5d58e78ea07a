"""Training, evaluation and export of Sketchpad's models (PyTorch; the app never imports this)."""
