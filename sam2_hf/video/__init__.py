"""Video tracking with SAM 2's memory (``tracker``), frames in and results out (``io``)."""

from ..results import FrameMasks
from .tracker import StreamingSession, TrackingSession, VideoTracker, track_video

__all__ = ["FrameMasks", "StreamingSession", "TrackingSession", "VideoTracker", "track_video"]
