# Released pre-training recipe (scripts/pretrain.sh of PointHMR_release):
# Adam (0.9, 0.999), no weight decay, lr 1e-5 (the script's
# --learning_rate; 1e-4 is only the argparse default), 60 epochs, lr x0.1
# from epoch 30 (adjust_learning_rate: lr * 0.1 ** (epoch // (epochs / 2))).
max_epochs = 60
base_lr = 1e-5
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[max_epochs // 2],
         gamma=0.1)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# The released batch: 2 GPUs x 12 images (--per_gpu_train_batch_size 12).
# train_dataloader.batch_size is per process (12), so 2 processes give the
# released 24 and lr 1e-5 as is. On other set-ups, tools/train.py
# --auto-scale-lr multiplies lr by (processes x batch_size) / 24, e.g.
# x0.5 on one GPU with batch 12.
auto_scale_lr = dict(base_batch_size=24)
