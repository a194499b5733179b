"""Audio: encoding, the sealed chunk file, the recorder, playback and import.

Modules here import numpy (and sounddevice/soundfile where needed) at module level, so the
CLI imports them inside commands only: `fieldscribe --help` must stay fast and numpy-free.
"""
