# Released recipe: Adam, no weight decay, lr x0.1 at half the epochs.
max_epochs = 60
base_lr = 1e-4
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
# released: 2 GPUs x 12 images
auto_scale_lr = dict(base_batch_size=24)
