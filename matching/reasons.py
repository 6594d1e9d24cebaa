"""Reason codes: stable snake_case strings stored on review tasks and shown to clerks.

A code is part of the data model (it is stored in `review_task.reason_codes` and may be counted in
reports), so never rename one; add a new one instead. `LABELS` gives the German text for the UI.
Codes in `NOTES` are informational: they travel with a match but do not keep it from auto-accept.
"""

from __future__ import annotations

# who / which meter
UNKNOWN_SENDER = "unknown_sender"
NO_METER = "no_meter"
AMBIGUOUS_METER = "ambiguous_meter"
METER_NUMBER_MISMATCH = "meter_number_mismatch"
ACCOUNT_MISMATCH = "account_mismatch"
METER_REMOVED = "meter_removed"
MULTIPLE_REGISTERS = "multiple_registers"

# which value
NO_VALUE = "no_value"
NO_CONTENT = "no_content"
UNREADABLE_PHOTO = "unreadable_photo"
LOW_CONFIDENCE = "low_confidence"
TYPED_WITHOUT_PHOTO = "typed_without_photo"
TYPED_PHOTO_MISMATCH = "typed_photo_mismatch"
AMBIGUOUS_TYPED_VALUE = "ambiguous_typed_value"

# plausibility against the meter and its history
TOO_MANY_DIGITS = "too_many_digits"
TOO_MANY_DECIMALS = "too_many_decimals"
NEGATIVE_VALUE = "negative_value"
BELOW_LAST_READING = "below_last_reading"
METER_ROLLOVER = "meter_rollover"
CONSUMPTION_TOO_HIGH = "consumption_too_high"
DATE_BEFORE_LAST_READING = "date_before_last_reading"
CONSUMPTION_ABOVE_EXPECTED = "consumption_above_expected"
CONSUMPTION_BELOW_EXPECTED = "consumption_below_expected"
ZERO_CONSUMPTION = "zero_consumption"
PRIOR_CHOSE_ALTERNATIVE = "prior_chose_alternative"

# several meters, registers and photos
REGISTER_UNCLEAR = "register_unclear"
CONFLICTING_PHOTOS = "conflicting_photos"
METER_BY_EXCLUSION = "meter_by_exclusion"
METER_BY_TYPED_UNIT = "meter_by_typed_unit"
OTHER_COUNTER_SHOWN = "other_counter_shown"

# informational (do not block auto-accept)
TYPED_MATCHES_PHOTO = "typed_matches_photo"
NO_HISTORY = "no_history"
METER_CHANGE = "meter_change"
METER_CHOSEN = "meter_chosen"
METER_BY_HISTORY = "meter_by_history"
METER_BY_OTHERS_HISTORY = "meter_by_others_history"
SAME_READING_TWICE = "same_reading_twice"
PARTLY_BOOKED = "partly_booked"

NOTES = frozenset(
    {
        TYPED_MATCHES_PHOTO,
        NO_HISTORY,
        METER_CHANGE,
        METER_CHOSEN,
        METER_BY_HISTORY,
        METER_BY_OTHERS_HISTORY,
        SAME_READING_TWICE,
        PARTLY_BOOKED,
    }
)

LABELS: dict[str, str] = {
    UNKNOWN_SENDER: "Absender ist keinem Kunden zugeordnet",
    NO_METER: "Kein Zähler gefunden",
    AMBIGUOUS_METER: "Mehrere Zähler kommen in Frage",
    METER_NUMBER_MISMATCH: "Zählernummer passt nicht zum Kunden",
    ACCOUNT_MISMATCH: "Vertragskonto passt nicht zum Kunden",
    METER_REMOVED: "Genannter Zähler ist ausgebaut",
    MULTIPLE_REGISTERS: "Zähler hat mehrere Zählwerke",
    NO_VALUE: "Kein Zählerstand erkannt",
    NO_CONTENT: "Weder Foto noch Zählerstand in der Mail",
    UNREADABLE_PHOTO: "Foto nicht lesbar",
    LOW_CONFIDENCE: "Texterkennung unsicher",
    TYPED_WITHOUT_PHOTO: "Zählerstand nur getippt, kein Foto",
    TYPED_PHOTO_MISMATCH: "Getippter Stand weicht vom Foto ab",
    AMBIGUOUS_TYPED_VALUE: "Mehrere getippte Zählerstände",
    TOO_MANY_DIGITS: "Mehr Vorkommastellen als der Zähler hat",
    TOO_MANY_DECIMALS: "Mehr Nachkommastellen als der Zähler hat",
    NEGATIVE_VALUE: "Negativer Zählerstand",
    BELOW_LAST_READING: "Stand liegt unter dem letzten Stand",
    METER_ROLLOVER: "Zählerüberlauf (Stand nach Nulldurchgang)",
    CONSUMPTION_TOO_HIGH: "Verbrauch pro Tag ungewöhnlich hoch",
    DATE_BEFORE_LAST_READING: "Ablesedatum liegt vor dem letzten Stand",
    CONSUMPTION_ABOVE_EXPECTED: "Verbrauch über dem erwarteten Bereich",
    CONSUMPTION_BELOW_EXPECTED: "Verbrauch unter dem erwarteten Bereich",
    ZERO_CONSUMPTION: "Kein Verbrauch seit dem letzten Stand",
    PRIOR_CHOSE_ALTERNATIVE: "Erkannter Stand unplausibel; passende Alternative vorgeschlagen",
    REGISTER_UNCLEAR: "Unklar, welches Zählwerk (HT/NT) das Foto zeigt",
    CONFLICTING_PHOTOS: "Fotos desselben Zählwerks zeigen verschiedene Stände",
    METER_BY_EXCLUSION: "Zähler nur durch Ausschluss der anderen bestimmt",
    METER_BY_TYPED_UNIT: "Zähler nur nach der getippten Einheit (kWh / m³) vorgeschlagen",
    OTHER_COUNTER_SHOWN: (
        "Anzeige zeigt eine andere Größe oder ein anderes Zählwerk (Einheit / OBIS-Kennzahl)"
    ),
    TYPED_MATCHES_PHOTO: "Getippter Stand bestätigt das Foto",
    NO_HISTORY: "Kein früherer Stand: nur das Foto spricht für den Wert",
    METER_CHANGE: "Zählerwechsel: Verbrauch des alten Zählers als Erwartung",
    METER_CHOSEN: "Zähler anhand der Belege auf dem Foto bestimmt",
    METER_BY_HISTORY: "Stand passt weit besser zum Verbrauch dieses Zählers als zu den anderen",
    METER_BY_OTHERS_HISTORY: (
        "Zähler ohne frühere Stände gewählt: zu den anderen Zählern passt der Stand weit schlechter"
    ),
    SAME_READING_TWICE: "Mehrere Fotos mit demselben Stand",
    PARTLY_BOOKED: "Andere Stände dieser Mail wurden schon gebucht",
}

# Evidence for or against one meter hypothesis (review task details, "hypotheses" → "evidence").
EVIDENCE_LABELS: dict[str, str] = {
    "meter_number_photo": "Zählernummer auf dem Foto",
    "likeliest_history": "Stand passt weit besser zu diesem Zähler als zu den anderen",
    "other_meter_number": "Foto zeigt die Nummer eines anderen Zählers",
    "display_matches": "Anzeigeart passt (Rollen/Display)",
    "display_differs": "Anzeigeart passt nicht",
    "digit_count_differs": "Stellenzahl passt nicht",
    "decimals_differ": "Mehr rote Nachkommarollen als der Zähler hat",
    "fewer_decimals": "Weniger rote Nachkommarollen erkannt als der Zähler hat",
    "unit_differs": "Anzeige zeigt eine andere Einheit (m³ / kWh / MWh / GJ)",
    "obis_differs": "Anzeige zeigt ein Stromzählwerk (OBIS-Kennzahl)",
    "register_shown": "Anzeige zeigt dieses Zählwerk (OBIS-Kennzahl)",
    "other_register_shown": "Anzeige zeigt ein anderes Zählwerk (OBIS-Kennzahl)",
    "display_elsewhere": "Foto sicher als andere Anzeigeart gelesen (Rollen/Display)",
    "ocr_accepted": "Texterkennung sicher",
    "ocr_unsure": "Texterkennung unsicher",
    "fits_history": "Stand passt zum bisherigen Verbrauch",
    "outside_history": "Stand passt nicht zum bisherigen Verbrauch",
    "no_history": "Kein früherer Stand zum Vergleich",
    "cannot_show_value": "Zähler kann diesen Wert nicht anzeigen",
    "dials_match": "Zeigerwerke neben den Rollen, wie bei Wasserzählern",
    "dials_differ": "Zeigerwerke neben den Rollen: eher ein Wasserzähler",
    "printed_unit_matches": "Aufgedruckte Einheit passt (kWh / m³)",
    "printed_unit_differs": "Aufgedruckte Einheit passt nicht (kWh / m³)",
    "unreadable": "Foto so nicht lesbar",
}


# the photo was mailed before, or taken long before (matching/reuse.py), and what a reply to our
# confirmation asks (intake/corrections.py); appended here so they merge onto any rewrite
PHOTO_REUSED = "photo_reused"
PHOTO_SIMILAR = "photo_similar"
PHOTO_OLD = "photo_old"
CORRECTION_REQUEST = "correction_request"
OTHER_READING_SAME_DAY = "other_reading_same_day"  # matching/same_day.py
SENDER_NOT_VERIFIED = "sender_not_verified"  # intake/sender_auth.py
LABELS.update(
    {
        PHOTO_REUSED: "Foto wurde schon einmal eingesandt",
        PHOTO_SIMILAR: "Foto gleicht einem früher eingesandten Foto",
        PHOTO_OLD: "Foto ist älter als die Meldung oder der letzte Stand",
        CORRECTION_REQUEST: "Kunde korrigiert einen bestätigten Zählerstand",
        OTHER_READING_SAME_DAY: "Für diesen Tag ist schon ein anderer Zählerstand gebucht",
        SENDER_NOT_VERIFIED: "Absender nicht bestätigt (SPF/DKIM/DMARC)",
    }
)


def label(code: str) -> str:
    """German text for a reason or evidence code; unknown codes are shown as they are."""
    return LABELS.get(code) or EVIDENCE_LABELS.get(code, code)


def blocking(codes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The codes that keep a submission from auto-accept, in order, without duplicates."""
    return tuple(dict.fromkeys(code for code in codes if code not in NOTES))
