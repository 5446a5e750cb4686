"""Person detectors for top-down inference, as mmpose's demos use them:
mmdet when it is installed (a config and a checkpoint), or torchvision's
COCO detectors from a local weights file (their own download only when
asked).

A detector is a callable: BGR uint8 image (H, W, 3) -> (P, 5) boxes xyxy
in pixels + score, people only, above the score threshold, after NMS.
"""
import logging
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from mmengine.logging import print_log

# torchvision's detection builders and their COCO weights enums
TORCHVISION_DETECTORS = {
    'fasterrcnn_resnet50_fpn_v2': 'FasterRCNN_ResNet50_FPN_V2_Weights',
    'fasterrcnn_resnet50_fpn': 'FasterRCNN_ResNet50_FPN_Weights',
    'fasterrcnn_mobilenet_v3_large_fpn':
    'FasterRCNN_MobileNet_V3_Large_FPN_Weights',
    'retinanet_resnet50_fpn_v2': 'RetinaNet_ResNet50_FPN_V2_Weights',
    'ssdlite320_mobilenet_v3_large': 'SSDLite320_MobileNet_V3_Large_Weights',
}
DEFAULT_DETECTOR = 'fasterrcnn_resnet50_fpn_v2'
TORCHVISION_PERSON = 1  # torchvision's COCO labels keep the 91-id layout
MMDET_PERSON = 0  # mmdet's COCO labels are the 80 contiguous classes
DEFAULT_SCORE_THR = 0.5
DEFAULT_NMS_IOU = 0.3


def _people(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
            person: int, score_thr: float, nms_iou: float) -> np.ndarray:
    """(P, 5) person boxes + scores above ``score_thr``, after NMS at
    ``nms_iou``, best first."""
    from torchvision.ops import nms
    keep = (labels == person) & (scores >= score_thr)
    boxes, scores = boxes[keep], scores[keep]
    order = nms(torch.as_tensor(boxes, dtype=torch.float32),
                torch.as_tensor(scores, dtype=torch.float32),
                nms_iou).numpy()
    return np.concatenate([boxes[order], scores[order, None]],
                          axis=1).astype(np.float64).reshape(-1, 5)


def _check_thresholds(score_thr: float, nms_iou: float) -> None:
    if not 0. <= score_thr <= 1.:
        raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
    if not 0. < nms_iou <= 1.:
        raise ValueError(f'nms_iou must be in (0, 1], got {nms_iou}')


class TorchvisionPersonDetector:
    """A torchvision COCO detector kept to its person class.

    Args:
        model: One of :data:`TORCHVISION_DETECTORS`.
        weights: Local weights file (torchvision's ``.pth`` state dict, e.g.
            ``fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth``).
        download: Without ``weights``, let torchvision download its COCO
            weights (to the torch hub cache). Off by default: nothing is
            fetched unless asked.
        random_weights: Build with random weights (tests of the plumbing
            only: it finds nothing meaningful).
        score_thr: Keep people scored at least this.
        nms_iou: IoU above which the lower-scored of two boxes is dropped.
        device: Torch device.
        **model_kwargs: Builder options, e.g. ``min_size``/``max_size``
            (Faster R-CNN, RetinaNet).

    Raises:
        ValueError: Unknown model, no weights source, or a bad threshold.
        FileNotFoundError: ``weights`` does not exist.
        RuntimeError: The weights do not fit, or the download failed.
    """

    def __init__(self, model: str = DEFAULT_DETECTOR,
                 weights: Optional[Union[str, Path]] = None,
                 download: bool = False, random_weights: bool = False,
                 score_thr: float = DEFAULT_SCORE_THR,
                 nms_iou: float = DEFAULT_NMS_IOU, device: str = 'cpu',
                 **model_kwargs):
        if model not in TORCHVISION_DETECTORS:
            raise ValueError(f'det model must be one of '
                             f'{sorted(TORCHVISION_DETECTORS)}, got {model!r}')
        if weights is None and not (download or random_weights):
            raise ValueError(
                f'the {model} detector needs weights: pass a local file '
                '(--det-weights PATH) or allow torchvision to download its '
                'COCO weights (--det-download)')
        _check_thresholds(score_thr, nms_iou)
        self.score_thr, self.nms_iou = score_thr, nms_iou
        self.name = model
        self.model = self._build(model, weights, download, model_kwargs)
        self.model.to(device).eval()
        self.device = device

    @staticmethod
    def _build(model: str, weights, download: bool, kwargs: dict):
        from torchvision.models import detection
        builder = getattr(detection, model)
        if weights is not None:
            path = Path(weights)
            if not path.is_file():
                raise FileNotFoundError(f'--det-weights {path}: no such file')
            net = builder(weights=None, weights_backbone=None, **kwargs)
            state = torch.load(path, map_location='cpu', weights_only=True)
            state = state.get('model', state.get('state_dict', state))
            try:
                net.load_state_dict(state)
            except RuntimeError as err:
                raise RuntimeError(f'--det-weights {path} does not fit '
                                   f'{model}: {err}') from err
            return net
        if not download:  # random weights, for tests of the plumbing
            return builder(weights=None, weights_backbone=None, **kwargs)
        enum = getattr(detection, TORCHVISION_DETECTORS[model])
        try:
            return builder(weights=enum.DEFAULT, **kwargs)
        except (OSError, RuntimeError) as err:  # URLError is an OSError
            raise RuntimeError(
                f'could not download the {model} weights ({err}); when '
                'offline, download them elsewhere and pass --det-weights '
                'PATH') from err

    @torch.no_grad()
    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        """(P, 5) xyxy + score of the people in one BGR uint8 image."""
        rgb = np.ascontiguousarray(np.asarray(image_bgr)[..., ::-1])
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.
        out = self.model([tensor.to(self.device)])[0]
        return _people(out['boxes'].cpu().numpy(),
                       out['scores'].cpu().numpy(),
                       out['labels'].cpu().numpy(), TORCHVISION_PERSON,
                       self.score_thr, self.nms_iou)


class MMDetPersonDetector:
    """An mmdet detector (``init_detector`` + ``inference_detector``, as
    mmpose's top-down demos), kept to COCO's person class.

    Args:
        config: mmdet config file.
        checkpoint: mmdet checkpoint file.
        score_thr: Keep people scored at least this.
        nms_iou: IoU of the extra NMS among people.
        device: Torch device.
        person_id: The person's label id in the detector's classes (0 for
            mmdet's COCO models).

    Raises:
        ImportError: mmdet is not installed (with what to do instead).
    """

    def __init__(self, config: str, checkpoint: str,
                 score_thr: float = DEFAULT_SCORE_THR,
                 nms_iou: float = DEFAULT_NMS_IOU, device: str = 'cpu',
                 person_id: int = MMDET_PERSON):
        try:
            from mmdet.apis import inference_detector, init_detector
        except ImportError as err:
            raise ImportError(
                '--det-config/--det-checkpoint need mmdet (pip install '
                'mmdet); or use a torchvision detector with --det-weights '
                f'(mmdet import failed: {err})') from err
        _check_thresholds(score_thr, nms_iou)
        self._infer = inference_detector
        self.model = init_detector(config, checkpoint, device=device)
        self.score_thr, self.nms_iou = score_thr, nms_iou
        self.person_id = person_id
        self.name = Path(config).stem

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        """(P, 5) xyxy + score of the people in one BGR uint8 image."""
        result = self._infer(self.model, image_bgr)
        pred = result.pred_instances.cpu().numpy()
        return _people(pred.bboxes, pred.scores, pred.labels,
                       self.person_id, self.score_thr, self.nms_iou)


def build_detector(det_config: Optional[str] = None,
                   det_checkpoint: Optional[str] = None,
                   det_model: Optional[str] = None,
                   det_weights: Optional[str] = None,
                   det_download: bool = False,
                   score_thr: float = DEFAULT_SCORE_THR,
                   nms_iou: float = DEFAULT_NMS_IOU, device: str = 'cpu'):
    """The detector the options name, or None when they name none.

    mmdet (``det_config`` + ``det_checkpoint``) wins; otherwise a
    torchvision detector (``det_model``, default
    :data:`DEFAULT_DETECTOR`) when ``det_weights`` or ``det_download`` is
    given.

    Raises:
        ValueError: Only one of ``det_config``/``det_checkpoint``.
    """
    if (det_config is None) != (det_checkpoint is None):
        raise ValueError('--det-config and --det-checkpoint go together')
    if det_config is not None:
        return MMDetPersonDetector(det_config, det_checkpoint, score_thr,
                                   nms_iou, device)
    if det_weights is None and not det_download:
        if det_model is not None:
            raise ValueError(f'--det-model {det_model} needs --det-weights '
                             'PATH or --det-download')
        return None
    detector = TorchvisionPersonDetector(
        det_model or DEFAULT_DETECTOR, det_weights, det_download,
        score_thr=score_thr, nms_iou=nms_iou, device=device)
    print_log(f'person detector: torchvision {detector.name}',
              logger='current', level=logging.INFO)
    return detector
