"""Per-vertex colours of a dressed person: skin, hair, a top, a bottom
and shoes, from the body's part labels and its rest geometry.

The labels are ``body_parts.npz``'s (:func:`.body.load_body_parts`):
``smpl24`` (SMPL's 24 skinning parts) says which limb a vertex is on,
``anny_uv`` (Anny's UV segmentation) where the head, hands, feet and the
eye and mouth cavities are. Where along a limb a vertex lies (for sleeve
and leg lengths), and where the hairline runs, come from the rest mesh and
its joints. Everything is left/right symmetric: a flipped image is as
likely as the original, so flip augmentation is valid.

Shape shorthand: N vertices.
"""
from dataclasses import dataclass
from typing import Dict

import numpy as np

# SMPL-24 parts (their order is SMPL's joints).
TORSO_PARTS = (0, 3, 6, 9, 13, 14)  # pelvis, spine1-3, collars
UPPER_TORSO_PARTS = (3, 6, 9, 13, 14)
NECK_PART, HEAD_PART = 12, 15
# (joint, next joint) along each limb, in order; a vertex's limb
# coordinate is the bone index plus its position along that bone.
ARM_CHAINS = (((16, 18), (18, 20), (20, 22)), ((17, 19), (19, 21), (21, 23)))
LEG_CHAINS = (((1, 4), (4, 7), (7, 10)), ((2, 5), (5, 8), (8, 11)))
ARM_PARTS = {16: 0, 18: 1, 20: 2, 22: 2, 17: 0, 19: 1, 21: 2, 23: 2}
LEG_PARTS = {1: 0, 4: 1, 7: 2, 10: 2, 2: 0, 5: 1, 8: 2, 11: 2}
HAIR_UV, FOOT_UV = ('head', ), ('foot.L', 'foot.R')
CAVITY_UV = {'eye_cavity.L': 'eye', 'eye_cavity.R': 'eye',
             'mouth_cavity': 'mouth'}
# Hairline, metres above the head joint: at the forehead (front of the
# head) and at the nape (back), linear in between (measured on the Anny
# adults: eyes ~0.04 above the head joint, crown ~0.16).
HAIRLINE_FRONT, HAIRLINE_BACK = 0.095, -0.045
HAIRLINE_FRONT_Z, HAIRLINE_BACK_Z = 0.08, -0.05
LONG_HAIR_DROP = 0.08  # long hair reaches this much lower at the back
# Skin tones, linear RGB in [0, 1], light to dark (sRGB-ish swatches of
# the Fitzpatrick I-VI range); a draw interpolates between neighbours.
SKIN_TONES = np.array([
    [0.96, 0.82, 0.72], [0.91, 0.73, 0.60], [0.82, 0.62, 0.48],
    [0.69, 0.49, 0.35], [0.53, 0.35, 0.24], [0.36, 0.23, 0.16]])
HAIR_COLOURS = np.array([
    [0.06, 0.05, 0.05], [0.20, 0.13, 0.08], [0.40, 0.26, 0.15],
    [0.72, 0.56, 0.34], [0.55, 0.24, 0.12], [0.62, 0.62, 0.62]])
# Garments: common dyes (navy, denim, black, grey, white, khaki, olive,
# burgundy) or, with GARMENT_RANDOM_PROB, any colour.
GARMENT_COLOURS = np.array([
    [0.10, 0.13, 0.30], [0.25, 0.35, 0.55], [0.08, 0.08, 0.09],
    [0.45, 0.45, 0.47], [0.90, 0.90, 0.88], [0.70, 0.62, 0.45],
    [0.33, 0.36, 0.22], [0.45, 0.10, 0.14]])
GARMENT_RANDOM_PROB = 0.4
COLOUR_JITTER = 0.05
CAVITY_COLOURS = dict(eye=(0.12, 0.09, 0.08), mouth=(0.35, 0.12, 0.12))
# Limb coordinates (0 at the shoulder/hip, 1 at the elbow/knee, 2 at the
# wrist/ankle): each garment's length is drawn from one of these ranges.
SLEEVES = dict(none=(0., 0.), short=(0.3, 0.6), elbow=(0.9, 1.2),
               long=(1.85, 1.95))
SLEEVE_PROBS = dict(none=0.15, short=0.4, elbow=0.1, long=0.35)
LEGS = dict(shorts=(0.35, 0.75), knee=(0.95, 1.25), long=(1.85, 1.98))
LEG_PROBS = dict(shorts=0.25, knee=0.15, long=0.6)
DRESS_PROB = 0.1  # top and bottom one garment (a dress-like colouring)
BALD_PROB, LONG_HAIR_PROB = 0.1, 0.35
BAREFOOT_PROB = 0.05
# Where the top ends on the torso: metres above the spine1 joint (a top
# tucked in or hanging over the waistband), and how deep its neckline is
# at the front (metres below the neck joint).
WAIST_RANGE = (-0.12, 0.02)
NECKLINE_DEPTH = (0.02, 0.12)
NECKLINE_BACK = 0.03
FRONT_WIDTH = 0.08  # metres over which the neckline deepens towards z+
SHADE_NOISE = 0.03  # relative per-vertex brightness noise
# A panel down the front of the top (a print, or a shirt under an open
# jacket), centred on the mid-plane: people's fronts and backs differ.
PANEL_PROB = 0.6
PANEL_HALF_WIDTH = (0.04, 0.12)  # metres either side of the mid-plane
PANEL_FRONT = 0.5  # of ``front``: on the chest's front face only
# Worn trousers are lighter over the thighs' and shins' fronts (denim
# fades where it rubs): up to this much brighter, per outfit.
MAX_LEG_FADE = 0.3


@dataclass
class BodyRegions:
    """Where each garment can be, per vertex (one gender's rest mesh).

    Attributes:
        arm: (N,) limb coordinate along the arm (0 shoulder, 1 elbow,
            2 wrist), NaN off the arms.
        leg: (N,) the same along the leg (hip, knee, ankle), NaN off legs.
        leg_front: (N,) cosine between the vertex's direction from the
            leg bone and the body's forward, NaN off the legs.
        torso: (N,) bool, on the torso (pelvis, spine, collars).
        height: (N,) metres above the spine1 joint.
        neck_drop: (N,) metres below the neck joint.
        front: (N,) in [0, 1], how far towards the chest's front.
        lateral: (N,) metres from the mid-plane (x = 0).
        hair_margin: (N,) metres above the short hairline, NaN off the head.
        hair_back: (N,) bool, behind the head joint (long hair may go
            lower there).
        feet: (N,) bool, Anny's foot segments.
        cavity: (N,) '' or 'eye' / 'mouth'.
    """
    arm: np.ndarray
    leg: np.ndarray
    leg_front: np.ndarray
    torso: np.ndarray
    height: np.ndarray
    neck_drop: np.ndarray
    front: np.ndarray
    lateral: np.ndarray
    hair_margin: np.ndarray
    hair_back: np.ndarray
    feet: np.ndarray
    cavity: np.ndarray


def _limb_coordinate(verts, joints, parts, chains, part_bone):
    """(N,) bone index + position along it, and (N,) the cosine between
    the vertex's direction from the bone and the body's forward (+z);
    NaN for other vertices."""
    coord = np.full(len(verts), np.nan)
    facing = np.full(len(verts), np.nan)
    for chain in chains:
        members = {a for a, _ in chain} | {chain[-1][1]}
        for part in members:
            mask = parts == part
            if not mask.any():
                continue
            bone = part_bone[part]
            a, b = chain[bone]
            axis = joints[b] - joints[a]
            t = (verts[mask] - joints[a]) @ axis / (axis @ axis)
            coord[mask] = bone + np.clip(t, 0., 1.)
            radial = verts[mask] - (joints[a] + t[:, None] * axis)
            facing[mask] = radial[:, 2] / np.maximum(
                np.linalg.norm(radial, axis=1), 1e-9)
    return coord, facing


def body_regions(template: np.ndarray, joints: np.ndarray,
                 parts: Dict[str, np.ndarray]) -> BodyRegions:
    """The garment regions of a rest mesh.

    Args:
        template: (N, 3) rest vertices, body frame (y up, z forward).
        joints: (24, 3) their SMPL joints.
        parts: :func:`.body.load_body_parts`'s labels.
    """
    smpl24, uv = parts['smpl24'], parts['anny_uv']
    uv_names = list(parts['anny_uv_names'])

    def uv_mask(names):
        ids = [uv_names.index(n) for n in names if n in uv_names]
        return np.isin(uv, ids)

    head = joints[HEAD_PART]
    rel = template - head
    hairline = np.interp(rel[:, 2], (HAIRLINE_BACK_Z, HAIRLINE_FRONT_Z),
                         (HAIRLINE_BACK, HAIRLINE_FRONT))
    on_head = uv_mask(HAIR_UV)
    cavity = np.full(len(template), '', dtype=object)
    for name, kind in CAVITY_UV.items():
        cavity[uv_mask((name, ))] = kind
    spine3 = joints[9]
    arm, _ = _limb_coordinate(template, joints, smpl24, ARM_CHAINS,
                              ARM_PARTS)
    leg, leg_front = _limb_coordinate(template, joints, smpl24, LEG_CHAINS,
                                      LEG_PARTS)
    return BodyRegions(
        arm=arm, leg=leg, leg_front=leg_front,
        torso=np.isin(smpl24, TORSO_PARTS),
        height=template[:, 1] - joints[3, 1],
        neck_drop=joints[NECK_PART, 1] - template[:, 1],
        front=np.clip((template[:, 2] - spine3[2]) / FRONT_WIDTH, 0., 1.),
        lateral=np.abs(template[:, 0]),
        hair_margin=np.where(on_head & (cavity == ''), rel[:, 1] - hairline,
                             np.nan),
        hair_back=rel[:, 2] < 0.,
        feet=uv_mask(FOOT_UV),
        cavity=cavity)


def _pick(rng: np.random.Generator, probs: Dict[str, float]) -> str:
    names = list(probs)
    weights = np.asarray([probs[n] for n in names])
    return names[rng.choice(len(names), p=weights / weights.sum())]


def _jitter(rng, colour) -> np.ndarray:
    return np.clip(np.asarray(colour) + rng.normal(0., COLOUR_JITTER, 3),
                   0., 1.)


def random_skin_tone(rng: np.random.Generator) -> np.ndarray:
    """(3,) RGB between two neighbouring :data:`SKIN_TONES`."""
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = min(int(t), len(SKIN_TONES) - 2)
    tone = SKIN_TONES[i] * (1 - (t - i)) + SKIN_TONES[i + 1] * (t - i)
    return _jitter(rng, tone)


def random_garment_colour(rng: np.random.Generator) -> np.ndarray:
    """(3,) RGB: a common dye, or any colour."""
    if rng.random() < GARMENT_RANDOM_PROB:
        return rng.uniform(0.05, 0.95, 3)
    return _jitter(rng, GARMENT_COLOURS[rng.integers(len(GARMENT_COLOURS))])


def random_outfit(rng: np.random.Generator) -> dict:
    """Colours and cuts: ``skin``, ``hair`` (RGB or None for bald) and
    ``long_hair``, ``top`` / ``bottom`` / ``shoes`` RGB (``shoes`` None
    for bare feet), ``panel`` RGB or None and its half-width
    ``panel_width`` (metres), ``leg_fade`` (how much lighter the
    trousers' fronts are), ``sleeve`` and ``leg`` lengths (limb
    coordinates), ``waist`` and ``neckline`` (metres)."""
    sleeve, leg = _pick(rng, SLEEVE_PROBS), _pick(rng, LEG_PROBS)
    top = random_garment_colour(rng)
    dress = rng.random() < DRESS_PROB
    hair = None if rng.random() < BALD_PROB else _jitter(
        rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))])
    return dict(
        skin=random_skin_tone(rng), hair=hair,
        long_hair=bool(rng.random() < LONG_HAIR_PROB),
        top=top, bottom=top if dress else random_garment_colour(rng),
        shoes=None if rng.random() < BAREFOOT_PROB else
        random_garment_colour(rng) * 0.6,
        sleeve=rng.uniform(*SLEEVES[sleeve]),
        leg=rng.uniform(*LEGS['knee' if dress else leg]),
        waist=rng.uniform(*WAIST_RANGE),
        neckline=rng.uniform(*NECKLINE_DEPTH),
        panel=random_garment_colour(rng) if rng.random() < PANEL_PROB
        else None,
        panel_width=rng.uniform(*PANEL_HALF_WIDTH),
        leg_fade=rng.uniform(0., MAX_LEG_FADE))


def vertex_colours(regions: BodyRegions, outfit: dict,
                   rng: np.random.Generator) -> np.ndarray:
    """(N, 3) RGB in [0, 1] of a body wearing ``outfit``
    (:func:`random_outfit`), with a little per-vertex shade noise."""
    n = len(regions.torso)
    colours = np.tile(outfit['skin'], (n, 1))
    with np.errstate(invalid='ignore'):  # NaN: not on that limb
        neck_limit = NECKLINE_BACK + regions.front * (
            outfit['neckline'] - NECKLINE_BACK)
        top = (regions.torso & (regions.height > outfit['waist']) &
               (regions.neck_drop > neck_limit)) | \
            (regions.arm < outfit['sleeve'])
        bottom = (regions.torso & (regions.height <= outfit['waist'])) | \
            (regions.leg < outfit['leg'])
        hair = regions.hair_margin > 0
        if outfit['long_hair']:
            hair |= regions.hair_back & (regions.hair_margin >
                                         -LONG_HAIR_DROP)
    colours[bottom] = outfit['bottom']
    on_legs = bottom & ~np.isnan(regions.leg_front)
    fade = 1. + outfit.get('leg_fade', 0.) * np.clip(
        regions.leg_front[on_legs], 0., 1.)
    colours[on_legs] = np.clip(colours[on_legs] * fade[:, None], 0., 1.)
    colours[top] = outfit['top']
    if outfit.get('panel') is not None:
        panel = top & regions.torso & (regions.front > PANEL_FRONT) & (
            regions.lateral < outfit['panel_width'])
        colours[panel] = outfit['panel']
    if outfit['shoes'] is not None:
        colours[regions.feet] = outfit['shoes']
    if outfit['hair'] is not None:
        colours[hair] = outfit['hair']
    for kind, colour in CAVITY_COLOURS.items():
        colours[regions.cavity == kind] = colour
    shade = 1. + rng.normal(0., SHADE_NOISE, (n, 1))
    return np.clip(colours * shade, 0., 1.)

