"""The heatmap losses at the heatmap's own resolution equal the released
formulation (x2 nearest upsampling, softmax over the upsampled pixels,
dense one-hot targets, ``F.binary_cross_entropy`` mean and dice), in value
and gradient, and never allocate an upsampled-size tensor."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from pointhmr_mm.models.heads import MaskedMeshTransformerHead
from pointhmr_mm.models.task_modules import MeshTargets
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.geometry import weak_perspective_projection

from toolbox.tiny_model import mesh_targets_cfg

UPSCALE = 2
BCE_WEIGHT = 10000.
DICE_WEIGHT = 10.


def released_heatmap_losses(logits, gt_vertices, camera):
    """PointHMR's released heatmap losses, written out densely.

    Args:
        logits: (B, V, H, H) heatmap logits.
        gt_vertices: (B, V, 3) GT coarse vertices.
        camera: (B, 3) weak-perspective (s, tx, ty).

    Returns:
        tuple: weighted BCE and dice scalars.
    """
    up = F.interpolate(logits, scale_factor=UPSCALE, mode='nearest')
    size = up.shape[-1]
    probs = up.flatten(2).softmax(-1)
    xy = camera[:, None, :1] * (gt_vertices[..., :2] + camera[:, None, 1:])
    pixel = torch.floor((xy.detach() + 1) / 2 * size).long()
    inside = ((pixel >= 0) & (pixel < size)).all(-1)
    index = pixel[..., 1] * size + pixel[..., 0]
    probs, index = probs[inside], index[inside]
    target = F.one_hot(index, size * size).to(probs.dtype)
    bce = F.binary_cross_entropy(probs, target) * BCE_WEIGHT
    inter = (probs * target).sum(1)
    union = probs.sum(1) + target.sum(1)
    dice = (1 - (2 * inter + 2e-5) / (union + 2e-5)).mean() * DICE_WEIGHT
    return bce, dice


def target_index(gt_vertices, camera, size):
    """MeshTargets.heatmap_targets for a map of side ``size / UPSCALE``."""
    xy = weak_perspective_projection(gt_vertices, camera)
    return MeshTargets.parent_pixels(MeshTargets.pixel_index(xy, size),
                                     size, UPSCALE)


def own_resolution_losses(logits, gt_vertices, camera):
    """The implementation's path: softmax on the map, targets placed at the
    released resolution and mapped to parents, closed-form losses."""
    size = logits.shape[-1] * UPSCALE
    probs = logits.flatten(2).softmax(-1)
    index = target_index(gt_vertices, camera, size)
    valid = index >= 0
    probs, index = probs[valid], index[valid]
    bce = MODELS.build(dict(type='HeatmapBCELoss', loss_weight=BCE_WEIGHT,
                            upscale=UPSCALE))
    dice = MODELS.build(dict(type='HeatmapDiceLoss', loss_weight=DICE_WEIGHT,
                             upscale=UPSCALE))
    return bce(probs, index), dice(probs, index)


def random_case(batch=3, vertices=20, side=14, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(batch, vertices, side, side, generator=gen,
                              dtype=torch.float64)).requires_grad_()
    # camera scale 1, no shift: vertices with |x| or |y| > 1 fall outside
    gt = torch.rand(batch, vertices, 3, generator=gen,
                    dtype=torch.float64) * 2.6 - 1.3
    camera = torch.tensor([[1., 0., 0.]], dtype=torch.float64).repeat(
        batch, 1)
    return logits, gt, camera


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_values_and_gradients_equal_released(dtype):
    logits, gt, camera = random_case()
    logits = logits.detach().to(dtype).requires_grad_()
    gt, camera = gt.to(dtype), camera.to(dtype)
    inside = (gt[..., :2].abs() < 1).all(-1)
    assert 0 < inside.sum() < inside.numel()  # both kinds of target
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else \
        dict(rtol=1e-4, atol=1e-6)
    for term in range(2):  # BCE, dice
        ref = released_heatmap_losses(logits, gt, camera)[term]
        ref_grad, = torch.autograd.grad(ref, logits)
        out = own_resolution_losses(logits, gt, camera)[term]
        out_grad, = torch.autograd.grad(out, logits)
        torch.testing.assert_close(out, ref, **tol)
        torch.testing.assert_close(out_grad, ref_grad, **tol)


def test_bce_log_clamp_matches_released():
    """A vertex whose target pixel has probability ~0: both clamp its log
    term at -100."""
    logits, gt, camera = random_case(batch=1, vertices=4)
    with torch.no_grad():
        logits[0, 0] = -200.
        logits[0, 0, 0, 0] = 200.  # all mass far from the target pixel
    gt[0, 0] = torch.tensor([0.5, 0.5, 0.])
    ref = released_heatmap_losses(logits, gt, camera)[0]
    out = own_resolution_losses(logits, gt, camera)[0]
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any op returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_flatten(out)[0]:
            if isinstance(leaf, torch.Tensor):
                self.largest = max(self.largest, leaf.numel())
        return out


def test_head_loss_allocates_nothing_of_upsampled_size(body_model_dir,
                                                       mesh_sampler_file):
    targets = TASK_UTILS.build(mesh_targets_cfg(body_model_dir,
                                                mesh_sampler_file))
    sampler = targets.mesh_sampler
    head = MaskedMeshTransformerHead(
        mesh_targets=targets, num_joints=3, in_channels=8, position_dims=4,
        embed_dims=(12, 12, 8, 8), ffn_dims=(16, 16, 8, 8),
        num_layers=(1, 1, 1, 1), num_heads=2)
    batch, side = 2, targets.heatmap_size
    vertices = sampler.num_vertices[-1]
    logits = torch.randn(batch, vertices, side, side, requires_grad=True)
    gt = [torch.rand(batch, n, 3) * 2 - 1
          for n in reversed(sampler.num_vertices)]
    outputs = dict(heatmap_logits=logits,
                   pred_camera=torch.tensor([[0.9, 0., 0.]]).repeat(batch, 1))
    targets = dict(gt_vertices=gt, has_smpl=torch.ones(batch))
    upsampled = batch * vertices * side * side * UPSCALE**2
    with LargestTensor() as mode:
        losses = head._heatmap_losses(outputs, targets)
        sum(losses.values()).backward()
    assert set(losses) == {'loss_heatmap', 'loss_dice'}
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert 0 < mode.largest < upsampled
    # the map itself is the largest thing the loss needs
    assert mode.largest <= batch * vertices * side * side


@pytest.mark.parametrize('name', ['HeatmapBCELoss', 'HeatmapDiceLoss'])
def test_rows_left_out_by_index_equal_rows_removed(name):
    """Index -1 leaves a row out: the same value and gradient as removing
    it from the input, and no gradient on it."""
    logits, gt, camera = random_case()
    loss = MODELS.build(dict(type=name))

    def probs():
        return logits.flatten(2).softmax(-1).flatten(0, 1)

    size = logits.shape[-1] * UPSCALE
    index = target_index(gt, camera, size).flatten()
    kept = index >= 0
    assert 0 < kept.sum() < len(kept)
    out = loss(probs(), index)
    grad, = torch.autograd.grad(out, logits)
    ref = loss(probs()[kept], index[kept])
    ref_grad, = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)
    assert (grad.flatten(0, 1)[~kept] == 0).all()
    # nothing kept: 0 with a gradient of 0
    none = loss(probs(), torch.full_like(index, -1))
    assert none.item() == 0
    assert (torch.autograd.grad(none, logits)[0] == 0).all()
    with pytest.raises(ValueError, match='target_index has shape'):
        loss(probs(), index[:-1])


def test_bce_gradient_where_the_log_is_clamped():
    """At the map's own resolution (upscale 1) a pixel of probability 1
    makes log(1 - q) -inf and a target pixel of probability 0 log(q)
    -inf: both are clamped at -100 as in F.binary_cross_entropy, and the
    gradient stays finite."""
    # the loss takes any values in [0, 1]; exact 0s elsewhere would hit
    # F.binary_cross_entropy's own degenerate gradient, (p - t) / eps
    probs = torch.tensor([[1., 0., 0.2, 0.3], [0.25, 0.25, 0.25, 0.25]],
                         dtype=torch.float64, requires_grad=True)
    index = torch.tensor([1, 2])
    bce = MODELS.build(dict(type='HeatmapBCELoss', loss_weight=1.,
                            upscale=1))
    out = bce(probs, index)
    grad, = torch.autograd.grad(out, probs)
    target = F.one_hot(index, 4).to(probs.dtype)
    leaf = probs.detach().requires_grad_()
    ref = F.binary_cross_entropy(leaf, target)
    ref_grad, = torch.autograd.grad(ref, leaf)
    torch.testing.assert_close(out, ref)
    assert torch.isfinite(grad).all()
    # Where a log is clamped the closed form's gradient is 0, the
    # derivative of the value it returns; F.binary_cross_entropy's is
    # (p - t) / max(p (1 - p), 1e-12) there. Everywhere else they agree.
    assert grad[0, 0] == 0 and grad[0, 1] == 0
    torch.testing.assert_close(grad[1], ref_grad[1])
    torch.testing.assert_close(grad[0, 2:], ref_grad[0, 2:])
