from .point_guided_sampling_neck import PointGuidedSamplingNeck

__all__ = ['PointGuidedSamplingNeck']
