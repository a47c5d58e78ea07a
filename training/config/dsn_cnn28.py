# Image-size study: the baseline CNN at 28×28 (paper: 28 → 77.80, 64 → 89.39, 96 → 91.76 MAP@3)
model = "cnn"
image_size = 28
out_dir = "runs/dsn/cnn28"
epochs = 10.0
# The paper's Adam 3e-4 (RNN 5e-4) suits its large batches over many epochs; in a 10-epoch CPU
# budget it is far too slow (val MAP@3 0.56 after 1.6 epochs), so all rows use 2e-3.
learning_rate = 0.002
