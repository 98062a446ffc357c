"""Which field a record-level message names, for the rules that involve more than one field.

The generator's `expected` lists use this mapping, so the check engine must name the same fields
for its messages to match. The rule: the last-mentioned or most specific field of the rule.

nhr-pmicd (single table; `table` is None):

    F-301  bsn
    F-302  procedure_datum
    F-303  procedure_datum
    F-304  aantal_leads
    F-305  the lead field that is wrong: lead{i}_positie, or lead{i}_serienummer
    F-306  udi_di
    F-307  serienummer
    F-308  ontslag_datum (discharge before admission) or overlijdensdatum (death before procedure)
    F-309  centrum_agb
    W-301  geboortedatum
    W-302  procedure_datum
    W-303  complicatie_type
    W-304  procedure_datum

nivel-fysio (`table` is the table name, `record` counts rows within that table):

    F-101  the referencing field: episodes.patient_id, episodes.therapeut_id,
           verrichtingen.episode_id, verrichtingen.therapeut_id; also the F-101 an episode gets
           when its patient or main therapist is rejected (episodes.patient_id / therapeut_id)
    F-102  patienten.toestemming, therapeuten.deelname
    F-103  therapeuten.big_nummer
    F-104  episodes.episode_id
    F-105  verrichtingen.score
    F-106  verrichtingen.datum
    F-107  patienten.bsn
    W-101  therapeuten.zvl_nummer
    W-102  episodes.screening_uitkomst
    W-103  episodes.einddatum

parabench-mi (single table):

    F-201  kwartaal
    F-202  the part that breaks its rule: nieuwe_patienten, patienten_man, episodes_gestart_dtf,
           episodes_afgesloten_chronisch, behandelingen_afgesloten_chronisch, omzet_contract_eur,
           episodes_met_uitkomstmeting; for age bands that do not add up, patienten_65_plus
    W-201  behandelingen
    W-202  omzet_eur

Generic codes (F-001 ... F-006) name the field whose value is wrong.
"""

from __future__ import annotations

#: dataset -> code -> the field(s) its message may name ("table.field" for nivel-fysio).
MESSAGE_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "nhr-pmicd": {
        "F-301": ("bsn",),
        "F-302": ("procedure_datum",),
        "F-303": ("procedure_datum",),
        "F-304": ("aantal_leads",),
        "F-305": tuple(
            f"lead{i}_{kind}" for kind in ("positie", "serienummer") for i in range(1, 5)
        ),
        "F-306": ("udi_di",),
        "F-307": ("serienummer",),
        "F-308": ("ontslag_datum", "overlijdensdatum"),
        "F-309": ("centrum_agb",),
        "W-301": ("geboortedatum",),
        "W-302": ("procedure_datum",),
        "W-303": ("complicatie_type",),
        "W-304": ("procedure_datum",),
    },
    "nivel-fysio": {
        "F-101": (
            "episodes.patient_id",
            "episodes.therapeut_id",
            "verrichtingen.episode_id",
            "verrichtingen.therapeut_id",
        ),
        "F-102": ("patienten.toestemming", "therapeuten.deelname"),
        "F-103": ("therapeuten.big_nummer",),
        "F-104": ("episodes.episode_id",),
        "F-105": ("verrichtingen.score",),
        "F-106": ("verrichtingen.datum",),
        "F-107": ("patienten.bsn",),
        "W-101": ("therapeuten.zvl_nummer",),
        "W-102": ("episodes.screening_uitkomst",),
        "W-103": ("episodes.einddatum",),
    },
    "parabench-mi": {
        "F-201": ("kwartaal",),
        "F-202": (
            "nieuwe_patienten",
            "patienten_man",
            "patienten_65_plus",
            "episodes_gestart_dtf",
            "episodes_afgesloten_chronisch",
            "behandelingen_afgesloten_chronisch",
            "omzet_contract_eur",
            "episodes_met_uitkomstmeting",
        ),
        "W-201": ("behandelingen",),
        "W-202": ("omzet_eur",),
    },
}
