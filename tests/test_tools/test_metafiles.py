"""The model zoo (model-index.yml and configs/**/metafile.yml): every model
names a config that loads, its source, metrics and how to get weights."""
import re

import pytest
import yaml
from mmengine.config import Config

from toolbox import ROOT

INDEX = yaml.safe_load((ROOT / 'model-index.yml').read_text())
METAFILES = [ROOT / path for path in INDEX['Import']]
MODELS = [(path.relative_to(ROOT), model) for path in METAFILES
          for model in yaml.safe_load(path.read_text())['Models']]


def test_every_metafile_is_indexed():
    found = sorted(ROOT.glob('configs/**/metafile.yml'))
    assert found == sorted(METAFILES)


@pytest.mark.parametrize('metafile, model', MODELS,
                         ids=[m['Name'] for _, m in MODELS])
def test_model_entry(metafile, model):
    collections = {c['Name'] for c in yaml.safe_load(
        (ROOT / metafile).read_text())['Collections']}
    assert model['In Collection'] in collections
    config = ROOT / model['Config']
    assert config.is_file(), f'{metafile}: {model["Config"]} is missing'
    Config.fromfile(str(config))
    assert model['Results'] and all(r['Metrics'] for r in model['Results'])
    assert model['Weights']


def test_quickstart_metrics_are_the_readmes():
    readme = (ROOT / 'README.md').read_text()
    (_, model), = [m for m in MODELS if m[1]['Name'] == 'pointhmr_quickstart']
    metrics = model['Results'][0]['Metrics']
    for key in ('MPJPE', 'PA-MPJPE', 'MPVE'):
        quoted = float(re.search(rf'mesh/{key}: ([\d.]+)', readme).group(1))
        assert metrics[key] == round(quoted, 1)


def test_released_metrics_are_the_papers():
    released = {m['Name']: m for _, m in MODELS}
    h36m = released['pointhmr_hrnet_w32_h36m_released']['Results'][0]
    assert h36m['Metrics'] == {'MPJPE': 48.3, 'PA-MPJPE': 32.9}
    pw3d = released['pointhmr_hrnet_w32_3dpw_released']['Results'][0]
    assert pw3d['Metrics'] == {'MPJPE': 73.9, 'PA-MPJPE': 44.9,
                               'MPVE': 85.5}
