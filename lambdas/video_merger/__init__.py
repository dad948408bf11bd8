"""The merge-videos Lambda: join ordered clips, stream-copying whenever they allow it."""
