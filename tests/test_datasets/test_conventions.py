import numpy as np
import pytest

from pointhmr_mm.datasets.conventions import (
    HUMAN_DATA_INDEX, HUMAN_DATA_NUM_KEYPOINTS, SPIN_GENDER_CODES,
    SURREAL_GENDER_CODES, check_gender_codes, human_data_to_lsp14,
    lsp14_sources, normalise_gender)


def test_sources_follow_the_file_convention():
    assert lsp14_sources()[2] == 'right_hip_extra'
    present = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, bool)
    for name in ('right_hip', 'right_hip_openpose', 'neck_openpose'):
        present[HUMAN_DATA_INDEX[name]] = True
    sources = lsp14_sources(present)
    assert sources[2] == 'right_hip'  # the first approximate it has
    assert sources[12] == 'neck_openpose' and sources[0] is None
    with pytest.raises(ValueError, match='190'):
        lsp14_sources(np.ones(17))


def test_one_source_joint_for_every_sample():
    kp = np.zeros((2, HUMAN_DATA_NUM_KEYPOINTS, 3), np.float32)
    kp[:, HUMAN_DATA_INDEX['right_wrist_openpose']] = [5., 6., 0.7]
    kp[0, HUMAN_DATA_INDEX['right_wrist']] = [1., 2., 1.]  # sample 1: occluded
    out = human_data_to_lsp14(kp)
    assert out[0, 6].tolist() == [1., 2., 1.]
    assert out[1, 6].tolist() == [0., 0., 0.]


def test_gender_strings_and_codes():
    assert [normalise_gender(g) for g in ('M', b'f', 'none', np.str_('n'))
            ] == ['male', 'female', 'neutral', 'neutral']
    assert normalise_gender(np.int64(0)) == 'male'
    assert normalise_gender(0., SURREAL_GENDER_CODES) == 'female'
    assert check_gender_codes(None) == SPIN_GENDER_CODES
    for bad in (2, True, 'x', 0.5):
        with pytest.raises(ValueError, match='gender'):
            normalise_gender(bad)
    with pytest.raises(ValueError, match=r'gender_codes\[1\]'):
        check_gender_codes({1: 'woman'})
