from .boxes import check_boxes, load_bbox_file, to_xyxy
from .detectors import (MMDetPersonDetector, TorchvisionPersonDetector,
                        build_detector)
from .exporters import export_bvh, export_glb, export_obj
from .focal_length import focal_from_exif, resolve_focal
from .inference import build_test_pipeline, inference_mesh, init_model
from .mesh_inferencer import MeshInferencer
from .options import InferenceOptions
from .records import person_record
from .smoothing import OneEuroFilter, TrackSmoother
from .smpl_export import load_smpl_params, save_smpl_params
from .tracking import IoUTracker

__all__ = [
    'MeshInferencer', 'InferenceOptions', 'inference_mesh', 'init_model',
    'build_test_pipeline', 'load_bbox_file', 'check_boxes', 'to_xyxy',
    'person_record', 'build_detector', 'TorchvisionPersonDetector',
    'MMDetPersonDetector', 'focal_from_exif', 'resolve_focal',
    'load_smpl_params', 'save_smpl_params', 'export_obj', 'export_glb',
    'export_bvh', 'IoUTracker', 'OneEuroFilter', 'TrackSmoother'
]
