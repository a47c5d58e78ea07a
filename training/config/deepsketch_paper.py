# DeepSketch at the paper's size (Table 1, about 55 M parameters) on TU-Berlin split 1 — needs a GPU.
#   torchrun --standalone --nproc_per_node=1 -m training.deepsketch.train training/config/deepsketch_paper.py
# (8 GPUs: --nproc_per_node=8 with batch_size = 8, which keeps the paper's global batch of 64.)
# Splits 2 and 3: add --split=2 --out_dir=runs/deepsketch/paper-split2 (and 3).
split = 1
widths = (64, 128, 256, 512)
fc = 4096
dropout = 0.5
batch_size = 64
epochs = 110          # paper: 80 "epochs" at lr 0.1, then a gradual decay (here cosine over all)
lr = 0.1
momentum = 0.9
weight_decay = 5e-4
warmup_steps = 0      # untested at this size: if the loss diverges, try --warmup_steps=500 or --lr=0.05
out_dir = "runs/deepsketch/paper-split1"
