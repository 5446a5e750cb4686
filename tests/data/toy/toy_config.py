_base_ = ['../../../configs/_base_/default_runtime.py']
# tests/toolbox/toy_modules.py (pytest.ini and toolbox.subprocess_env put
# tests/ on the import path)
custom_imports = dict(imports=['toolbox.toy_modules'],
                      allow_failed_imports=False)
model = dict(type='ToyModel')
train_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ToyDataset', size=16))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ToyDataset', size=8))
val_evaluator = dict(type='ToyMetric')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(save_best=None, max_keep_ckpts=1))
randomness = dict(seed=7)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict()
