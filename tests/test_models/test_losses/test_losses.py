"""Each PointHMR loss against values worked out by hand and against the
released dense formulas."""
import pytest
import torch
import torch.nn.functional as F

from pointhmr_mm.registry import MODELS


def build(cfg):
    return MODELS.build(cfg)


class TestVertexL1Loss:

    def test_hand_value(self):
        loss = build(dict(type='VertexL1Loss', level_weights=(0.5, 1.0),
                          loss_weight=2.))
        pred = [torch.zeros(2, 3, 3), torch.zeros(2, 4, 3)]
        gt = [torch.ones(2, 3, 3), torch.full((2, 4, 3), 2.)]
        has = torch.tensor([1., 0.])
        # only sample 0: 2 * (0.5 * 1 + 1.0 * 2)
        assert loss(pred, gt, has).item() == pytest.approx(5.)

    def test_zero_cases(self):
        pred = [torch.randn(2, 3, 3, requires_grad=True)]
        loss = build(dict(type='VertexL1Loss', level_weights=(1., )))
        assert loss(pred, [pred[0].detach()], torch.ones(2)).item() == 0
        out = loss(pred, [torch.randn(2, 3, 3)], torch.zeros(2))
        assert out.item() == 0 and out.requires_grad
        zero_w = build(dict(type='VertexL1Loss', level_weights=(1., ),
                            loss_weight=0.))
        assert zero_w(pred, [torch.randn(2, 3, 3)], torch.ones(2)).item() == 0

    def test_level_count_checked(self):
        loss = build(dict(type='VertexL1Loss'))
        with pytest.raises(ValueError, match='mesh levels'):
            loss([torch.zeros(1, 2, 3)], [torch.zeros(1, 2, 3)], torch.ones(1))


class TestKeypoint3DMSELoss:

    def test_hand_value_and_alignment(self):
        loss = build(dict(type='Keypoint3DMSELoss', root_indices=(0, ),
                          loss_weight=1.))
        gt = torch.zeros(2, 2, 4)
        gt[0, 1, :3] = torch.tensor([1., 0., 0.])
        gt[0, :, 3] = 1.
        pred = torch.zeros(2, 2, 3)
        pred[0] += 5.  # a global shift is removed by the root alignment
        # sample 1 has no 3D joints and is left out of the mean:
        # sample 0 joint 1 errs by 1 in x -> 1 / (2 joints * 3 coords)
        assert loss(pred, gt).item() == pytest.approx(1 / 6)

    def test_no_labels_and_bad_shape(self):
        loss = build(dict(type='Keypoint3DMSELoss'))
        pred = torch.randn(2, 14, 3, requires_grad=True)
        out = loss(pred, torch.zeros(2, 14, 4))
        assert out.item() == 0 and torch.isfinite(out)
        with pytest.raises(ValueError, match='B, J, 4'):
            loss(pred, torch.zeros(2, 14, 3))


def test_unlabelled_rows_are_masked_not_indexed():
    """The vertex and 3D joint losses leave unlabelled samples out by
    weight (no host synchronisation on a GPU): the value equals the loss
    of the labelled samples alone, and an unlabelled sample gets a zero
    gradient even where its GT is NaN."""
    torch.manual_seed(0)
    labelled = torch.tensor([1., 0., 1.])
    keep = labelled > 0
    vertex = build(dict(type='VertexL1Loss', level_weights=(0.5, 1.)))
    pred = [torch.randn(3, 4, 3, requires_grad=True),
            torch.randn(3, 6, 3, requires_grad=True)]
    gt = [torch.randn(3, 4, 3), torch.randn(3, 6, 3)]
    gt[1][1] = float('nan')
    out = vertex(pred, gt, labelled)
    alone = vertex([p[keep] for p in pred], [g[keep] for g in gt],
                   labelled[keep])
    torch.testing.assert_close(out, alone)
    out.backward()
    for p in pred:
        assert torch.isfinite(p.grad).all() and not p.grad[1].any()

    joints = build(dict(type='Keypoint3DMSELoss'))
    pred = torch.randn(3, 14, 3, requires_grad=True)
    gt = torch.cat([torch.randn(3, 14, 3), torch.rand(3, 14, 1)], -1)
    gt[1, :, 3] = 0.
    gt[1, :, :3] = float('nan')
    out = joints(pred, gt)
    torch.testing.assert_close(out, joints(pred[keep], gt[keep]))
    out.backward()
    assert torch.isfinite(pred.grad).all() and not pred.grad[1].any()


class TestKeypoint2DMSELoss:

    def test_hand_value(self):
        loss = build(dict(type='Keypoint2DMSELoss', loss_weight=3.))
        gt = torch.tensor([[[1., 0., 1.], [5., 5., 0.]]])
        pred = torch.zeros(1, 2, 2)
        # conf-weighted squared error, mean over 4 elements: 1 / 4, times 3
        assert loss(pred, gt).item() == pytest.approx(0.75)
        assert loss(gt[..., :2], gt).item() == 0


def dense_released_heatmap_loss(probs, target_index):
    """The released loss with dense one-hot targets (identity rows)."""
    eye = torch.eye(probs.shape[1])
    target = eye[target_index]
    bce = F.binary_cross_entropy(probs, target, reduction='mean') * 1e3
    inter = (probs * target).sum(1)
    union = probs.sum(1) + target.sum(1)
    dice = 1 - 2.0 * (inter + 1e-5) / (union + 2e-5)
    return bce, dice.mean()


class TestHeatmapLosses:

    def test_equal_released_formula(self):
        torch.manual_seed(0)
        probs = torch.randn(5, 64).softmax(-1)
        index = torch.tensor([0, 3, 63, 17, 17])
        bce_ref, dice_ref = dense_released_heatmap_loss(probs, index)
        # upscale=1: the plain formula at the map's own resolution
        bce = build(dict(type='HeatmapBCELoss', loss_weight=1000.,
                         upscale=1))
        dice = build(dict(type='HeatmapDiceLoss', loss_weight=1., upscale=1))
        torch.testing.assert_close(bce(probs, index), bce_ref)
        torch.testing.assert_close(dice(probs, index), dice_ref)

    def test_perfect_prediction_and_empty(self):
        probs = torch.eye(4)[[1, 2]]
        index = torch.tensor([1, 2])
        assert build(dict(type='HeatmapBCELoss', upscale=1))(
            probs, index).item() == 0
        assert build(dict(type='HeatmapDiceLoss', upscale=1))(
            probs, index).item() == \
            pytest.approx(0, abs=1e-6)
        empty = torch.zeros(0, 16, requires_grad=True)
        none = torch.zeros(0, dtype=torch.long)
        for name in ('HeatmapBCELoss', 'HeatmapDiceLoss'):
            out = build(dict(type=name))(empty, none)
            assert out.item() == 0 and torch.isfinite(out)

    def test_bad_upscale(self):
        for name in ('HeatmapBCELoss', 'HeatmapDiceLoss'):
            with pytest.raises(ValueError, match='upscale'):
                build(dict(type=name, upscale=0))
