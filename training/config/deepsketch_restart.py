# A second cosine cycle for the issue-16 recipe (a warm restart, Loshchilov & Hutter 2017, SGDR):
# the recipe's network of a split, trained 160 epochs, trained again from its averaged weights
# with the same views, label smoothing and weight EMA, lr 0.04 -> 0 over 45 more epochs.
# The recipe's network still fits its augmented training views only ~91 % of the time at the end
# (train acc, split 3), so more training rather than more regularisation is what it lacks; a
# restart gives that without a 200-epoch run from scratch, which would not fit one session.
#   python -m training.deepsketch.train training/config/deepsketch_recipe.py \
#       training/config/deepsketch_restart.py --split=3 \
#       --init_from=runs/deepsketch/recipe-split3/ckpt.pt --out_dir=runs/deepsketch/restart-split3
epochs = 45
lr = 0.04
warmup_steps = 200
seed = 7331                    # other batches and views than the first cycle's
threads = 1                    # the three splits run side by side on the 2 cores
init_from = "runs/deepsketch/recipe-split1/ckpt.pt"
out_dir = "runs/deepsketch/restart-split1"
