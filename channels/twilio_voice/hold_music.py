"""Hold music made here, so the phone line needs no outside URL and no audio file in the repo.

A slow, soft arpeggio synthesized once per process as 8 kHz 16-bit mono PCM WAV, the format
Twilio's <Play> takes as-is and what the phone network carries anyway (G.711 is 8 kHz).
"""

from __future__ import annotations

import io
import math
import struct
import wave
from functools import lru_cache

RATE = 8000
NOTE_S = 0.6
# C major and A minor, up and down: calm, and nothing a caller mistakes for a ring tone.
_CHORDS = ((261.63, 329.63, 392.00, 523.25), (220.00, 261.63, 329.63, 440.00),
           (174.61, 220.00, 261.63, 349.23), (196.00, 246.94, 293.66, 392.00))
PASSES = 2


@lru_cache(maxsize=1)
def hold_music_wav() -> bytes:
    """About half a minute of music; Twilio re-fetches the wait document after each play, and
    the queue position is announced in between."""
    frames = bytearray()
    per_note = int(RATE * NOTE_S)
    for _ in range(PASSES):
        for chord in _CHORDS:
            for frequency in (*chord, *reversed(chord[1:-1])):
                for i in range(per_note):
                    t = i / RATE
                    # Soft attack and a long decay: no clicks between notes.
                    envelope = min(1.0, t / 0.03) * math.exp(-2.2 * t)
                    sample = envelope * (0.6 * math.sin(2 * math.pi * frequency * t)
                                         + 0.15 * math.sin(4 * math.pi * frequency * t))
                    frames += struct.pack("<h", int(sample * 9000))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(frames))
    return out.getvalue()
