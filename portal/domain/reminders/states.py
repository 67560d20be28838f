"""The tones a reminder step can take, mildest first."""

from __future__ import annotations

from enum import StrEnum


class Tone(StrEnum):
    FRIENDLY = "friendly"
    FIRM = "firm"
    FORMAL_DEMAND = "formal_demand"
    FINAL_NOTICE = "final_notice"


TONE_LABELS = {
    Tone.FRIENDLY: "Friendly",
    Tone.FIRM: "Firm",
    Tone.FORMAL_DEMAND: "Formal demand",
    Tone.FINAL_NOTICE: "Final notice",
}
