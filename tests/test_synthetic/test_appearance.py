import numpy as np
import pytest
from scipy.spatial import cKDTree

from pointhmr_mm.synthetic.appearance import (CAVITY_COLOURS, SKIN_TONES,
                                              body_regions, random_outfit,
                                              random_skin_tone,
                                              vertex_colours)
from pointhmr_mm.synthetic.body import load_bodies, load_body_parts

# Vertices of the decimated test body are not mirror pairs, so symmetry is
# checked through each vertex's nearest mirrored vertex; garment borders
# cut between neighbours, so a few percent differ on either side.
SYMMETRY_AGREEMENT = 0.9
CLOSE = 0.15  # RGB distance within which two colours are "the same"
NECK_CLEARANCE = 0.05  # metres below the neck joint: under any neckline


@pytest.fixture(scope='module')
def regions(body_model_dir):
    body = load_bodies(body_model_dir)['female']
    parts = load_body_parts(body_model_dir, len(body.template))
    return body_regions(body.template, body.rest_joints, parts), body, parts


def outfit(**changes):
    base = random_outfit(np.random.default_rng(0))
    base.update(skin=np.array([0.9, 0.7, 0.6]), hair=np.array([0.1, 0.1,
                                                                0.1]),
                top=np.array([1., 0., 0.]), bottom=np.array([0., 0., 1.]),
                shoes=np.array([0., 1., 0.]), long_hair=False,
                neckline=0.03, waist=-0.1, panel=None)
    base.update(changes)
    return base


def colour_of(colours, mask, colour):
    return np.linalg.norm(colours[mask] - colour, axis=1) < CLOSE


def test_garments_sit_where_they_belong(regions):
    reg, body, parts = regions
    names = parts['smpl24_names']
    part = np.asarray(names)[parts['smpl24']]
    rng = np.random.default_rng(0)
    dressed = outfit(sleeve=1.9, leg=1.95)
    colours = vertex_colours(reg, dressed, rng)
    assert colours.shape == body.template.shape
    assert colours.min() >= 0 and colours.max() <= 1
    chest = np.isin(part, ['spine2', 'spine3']) & (
        body.template[:, 1] < body.rest_joints[12, 1] - NECK_CLEARANCE)
    assert colour_of(colours, chest, dressed['top']).mean() > 0.9
    # the forearm, but for the cuff above the wrist
    forearm = np.isin(part, ['left_elbow', 'right_elbow']) & (reg.arm < 1.8)
    assert colour_of(colours, forearm, dressed['top']).mean() > 0.9
    shin = np.isin(part, ['left_knee', 'right_knee']) & ~reg.feet & (
        reg.leg < 1.8)
    assert colour_of(colours, shin, dressed['bottom']).mean() > 0.9
    assert colour_of(colours, reg.feet, dressed['shoes']).mean() > 0.9
    hands = np.isin(part, ['left_hand', 'right_hand'])
    assert colour_of(colours, hands, dressed['skin']).mean() > 0.9
    # cavities are dark, hair is on top of the head only
    assert colour_of(colours, reg.cavity == 'eye',
                     CAVITY_COLOURS['eye']).all()
    hair = colour_of(colours, np.ones(len(colours), bool), dressed['hair'])
    top_of_head = body.template[:, 1].argmax()
    assert hair[top_of_head]
    assert body.template[hair, 1].min() > body.rest_joints[12, 1]  # neck
    # short sleeves and shorts leave forearms and shins bare
    bare = vertex_colours(reg, outfit(sleeve=0.4, leg=0.5), rng)
    assert colour_of(bare, forearm, dressed['skin']).mean() > 0.9
    assert colour_of(bare, shin, dressed['skin']).mean() > 0.9


def test_front_panel_is_on_the_front_only(regions):
    reg, body, _ = regions
    white = np.ones(3)
    colours = vertex_colours(reg, outfit(panel=white, panel_width=0.1),
                             np.random.default_rng(0))
    panel = colour_of(colours, np.ones(len(colours), bool), white)
    assert panel.sum() > 0
    # in front of the spine, within the panel's width of the mid-plane
    assert (body.template[panel, 2] > body.rest_joints[9, 2]).all()
    assert (np.abs(body.template[panel, 0]) < 0.1).all()


def test_trouser_fronts_are_lighter(regions):
    reg, _, _ = regions
    grey = np.full(3, 0.5)
    worn = vertex_colours(reg, outfit(bottom=grey, leg=1.95, leg_fade=0.3),
                          np.random.default_rng(0))
    legs = ~reg.feet & (reg.leg < 1.9)
    front, back = legs & (reg.leg_front > 0.7), legs & (reg.leg_front < -0.7)
    assert worn[front].mean() > 1.15 * worn[back].mean()


def test_left_and_right_look_alike(regions):
    reg, body, _ = regions
    mirrored = body.template * [-1., 1., 1.]
    partner = cKDTree(body.template).query(mirrored)[1]
    for seed in range(5):
        rng = np.random.default_rng(seed)
        colours = vertex_colours(reg, random_outfit(rng), rng)
        same = np.linalg.norm(colours - colours[partner], axis=1) < CLOSE
        assert same.mean() > SYMMETRY_AGREEMENT, seed


def test_outfits_vary():
    rng = np.random.default_rng(0)
    outfits = [random_outfit(rng) for _ in range(200)]
    sleeves = np.array([o['sleeve'] for o in outfits])
    legs = np.array([o['leg'] for o in outfits])
    assert (sleeves == 0).any() and (sleeves > 1.8).any() and \
        ((sleeves > 0) & (sleeves < 0.7)).any()
    assert (legs < 0.8).any() and (legs > 1.8).any()
    assert any(o['hair'] is None for o in outfits)
    assert any(o['long_hair'] for o in outfits)


def test_skin_tones_span_the_range():
    tones = np.stack([random_skin_tone(np.random.default_rng(s))
                      for s in range(300)])
    brightness = tones.mean(1)
    assert brightness.min() < SKIN_TONES[-2].mean()
    assert brightness.max() > SKIN_TONES[1].mean()
    # skin is warm: red over green over blue, for every tone
    assert (tones[:, 0] > tones[:, 2]).all()
