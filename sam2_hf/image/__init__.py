"""Image tasks on the engine: prompted masks, segment-everything, click sessions, folder jobs."""
