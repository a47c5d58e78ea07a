"""DeepSketch (Yu-style 15-layer ConvNet of papers.md §1) trained on TU-Berlin: model, data,
training, ten-view evaluation, similarity study and pack export."""
