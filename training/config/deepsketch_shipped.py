# The network the tu-berlin pack ships (issue 16, step 4): the recipe's split-1 network
# (deepsketch_recipe.py) fine-tuned for people who draw fast, on the mixed cache of
# training.deepsketch.mixed: TU-Berlin 72 sketches a class (the 8 left out of each class are
# among split 1's 27 test sketches, so neither network ever saw them), the Quick, Draw! drawings
# of the 198 single-mapped shared classes after each class's first 10 (held out: the
# cross-domain test), twice an epoch, and half A of the Quick, Draw! classes TU-Berlin lacks as an
# outlier-exposure background (half B stays unseen for the open-set figures).
#   python -m training.deepsketch.mixed
#   python -m training.deepsketch.train training/config/deepsketch_shipped.py
# Its accuracy on the 8 held-out TU-Berlin sketches a class is not the paper's protocol figure:
# the protocol figures are deepsketch_recipe.py's, per split.
cache = "cache/tu_berlin_qd_180.npy"
init_from = "runs/deepsketch/recipe-split1/ckpt.pt"
split = 1
train_per_class = 72
quickdraw_repeat = 2
oe_weight = 0.5
oe_batch = 16
widths = (16, 32, 64, 128)
fc = 1024
norm = "batch"
dropout = 0.5
batch_size = 64
epochs = 18
lr = 0.02
momentum = 0.9
weight_decay = 5e-4
warmup_steps = 100
label_smoothing = 0.1
ema_decay = 0.999
aug_angle = 35.0
aug_angle_step = 0.0
aug_scale = (0.8, 1.15)
aug_aspect = 0.15
aug_shear = 0.15
aug_thicken = 0.33
threads = 2
bf16 = True
eval_items = 500
out_dir = "runs/deepsketch/shipped"
