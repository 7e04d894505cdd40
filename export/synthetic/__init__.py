"""Synthetic faces rendered from the Surrey Face Model, with exact 2D/3D/pose/visibility labels.

Training side (needs eos-py and moderngl with an EGL driver). One idea per module:
``face_model`` (the SFM arrays), ``scene`` (random scene parameters), ``texture`` (albedo in UV
space), ``head`` (face mesh plus skull, neck, torso and mouth proxies), ``background``,
``occluders``, ``render`` (moderngl rasterizer), ``sample`` (the labelled sample type),
``generate`` (render_sample / render_batch / iter_samples / render_sequence), ``sequence``
(smooth motion of a sequence's scenes), ``dataset`` (the seeded test set and ytf68-format
export), ``sheet`` (contact sheet).
"""
from .dataset import TEST_SET_SEED, TEST_SET_SIZE, scene_seeds, synthetic_test_set, write_dataset
from .generate import iter_samples, render_batch, render_sample, render_sequence
from .render import RenderUnavailableError, gl_context
from .sample import SyntheticSample
from .scene import SceneParams, project, repose, sample_scene

__all__ = [
    "TEST_SET_SEED", "TEST_SET_SIZE", "RenderUnavailableError", "SceneParams", "SyntheticSample", "gl_context",
    "iter_samples", "project", "render_batch", "render_sample", "render_sequence", "repose", "sample_scene",
    "scene_seeds", "synthetic_test_set", "write_dataset",
]
