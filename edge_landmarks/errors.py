"""Exception hierarchy: every error the SDK raises on bad input derives from EdgeLandmarksError."""
from __future__ import annotations


class EdgeLandmarksError(Exception):
    """Base class of every error raised by edge-landmarks."""


class InputError(EdgeLandmarksError, ValueError):
    """A bad image, box, landmark array or argument given by the caller."""


class DataError(EdgeLandmarksError):
    """A data set folder or annotation file that is missing or malformed."""


class BundleError(EdgeLandmarksError):
    """A model bundle or checkpoint that is missing, corrupt or of an unknown version."""


class BackendUnavailableError(EdgeLandmarksError, ImportError):
    """An inference backend that is not installed; the message names the pip extra."""
