"""Re-identification for the implant register: four eyes, answers to hospitals, all audited."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.errors import (
    BatchRejected,
    Forbidden,
    NotAuthorised,
    ReidentificationRefused,
)
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty


def _upload(home: Path, source: str, bsns: list[str]) -> list[str]:
    p = Pseudonymiser.for_mode("production", registry="nhr", source=source, home=home)
    return [str(x) for x in p.pseudonymise(pl.Series(bsns)).to_list()]


@pytest.fixture
def officers(ttp: TrustedThirdParty) -> tuple[str, str]:
    return ttp.add_officer("anna"), ttp.add_officer("bram")


def _request(ttp: TrustedThirdParty, pseudonyms: list[str]) -> str:
    return ttp.request_reidentification(
        "nhr", pseudonyms, reason="terugroepactie UDI-DI 08712345678906", requested_by="nhr-analist"
    ).id


def _actions(ttp: TrustedThirdParty) -> list[str]:
    return [str(e["action"]) for e in ttp.audit.entries()]


def test_one_approval_does_not_resolve(ttp: TrustedThirdParty, officers: tuple[str, str]) -> None:
    carriers = _upload(ttp.home, "11111111", BSNS[:2])
    request = _request(ttp, carriers)
    ttp.decide(request, officer_token=officers[0], approve=True)
    with pytest.raises(ReidentificationRefused):
        ttp.resolve(request, officer_token=officers[0])
    assert not (ttp.root / "outbox" / request).exists()


def test_two_approvals_by_the_same_officer_do_not_resolve(
    ttp: TrustedThirdParty, officers: tuple[str, str]
) -> None:
    request = _request(ttp, _upload(ttp.home, "11111111", BSNS[:1]))
    ttp.decide(request, officer_token=officers[0], approve=True)
    with pytest.raises(ReidentificationRefused, match="tweede, andere functionaris"):
        ttp.decide(request, officer_token=officers[0], approve=True)
    with pytest.raises(ReidentificationRefused):
        ttp.resolve(request, officer_token=officers[1])
    assert ttp.store.request(request).status == "open"  # type: ignore[union-attr]


def test_the_requester_cannot_approve_their_own_request(ttp: TrustedThirdParty) -> None:
    token = ttp.add_officer("nhr-analist")
    request = _request(ttp, _upload(ttp.home, "11111111", BSNS[:1]))
    with pytest.raises(ReidentificationRefused, match="zelf"):
        ttp.decide(request, officer_token=token, approve=True)


def test_an_unknown_token_is_not_an_officer(ttp: TrustedThirdParty) -> None:
    request = _request(ttp, _upload(ttp.home, "11111111", BSNS[:1]))
    ttp.add_officer("anna")
    with pytest.raises(NotAuthorised):
        ttp.decide(request, officer_token="anna.verzonnen", approve=True)


def test_a_refusal_ends_the_request(ttp: TrustedThirdParty, officers: tuple[str, str]) -> None:
    request = _request(ttp, _upload(ttp.home, "11111111", BSNS[:1]))
    ttp.decide(request, officer_token=officers[0], approve=True)
    ttp.decide(request, officer_token=officers[1], approve=False, reason="geen grondslag")
    third = ttp.add_officer("cees")
    with pytest.raises(ReidentificationRefused):
        ttp.decide(request, officer_token=third, approve=True)
    with pytest.raises(ReidentificationRefused):
        ttp.resolve(request, officer_token=third)


def test_two_officers_resolve_to_the_hospitals_that_treated_the_patients(
    ttp: TrustedThirdParty, officers: tuple[str, str]
) -> None:
    # Hospital A treated the first two, hospital B the second and third: the second patient
    # is answered to both, each hospital learns only about its own patients.
    at_a = _upload(ttp.home, "11111111", BSNS[:2])
    at_b = _upload(ttp.home, "22222222", BSNS[1:3])
    _upload(ttp.home, "33333333", BSNS[3:])  # not a carrier: its hospital gets nothing
    request = _request(ttp, sorted(set(at_a + at_b)))
    ttp.decide(request, officer_token=officers[0], approve=True)
    ttp.decide(request, officer_token=officers[1], approve=True)
    result = ttp.resolve(request, officer_token=officers[1])

    assert result.per_source == {"11111111": 2, "22222222": 2}
    answers = {}
    for path in result.files:
        with path.open(encoding="utf-8") as fh:
            answers[path.name] = sorted(row["bsn"] for row in csv.DictReader(fh, delimiter=";"))
    assert answers == {"aan-11111111.csv": sorted(BSNS[:2]), "aan-22222222.csv": sorted(BSNS[1:3])}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in result.files)
    assert result.folder.is_relative_to(ttp.root)
    with pytest.raises(ReidentificationRefused):  # resolved once, not twice
        ttp.resolve(request, officer_token=officers[0])


def test_every_step_is_in_the_audit_log_without_identifiers(
    ttp: TrustedThirdParty, officers: tuple[str, str]
) -> None:
    request = _request(ttp, _upload(ttp.home, "11111111", BSNS[:1]))
    ttp.decide(request, officer_token=officers[0], approve=True)
    with pytest.raises(ReidentificationRefused):
        ttp.decide(request, officer_token=officers[0], approve=True)
    with pytest.raises(ReidentificationRefused):
        ttp.resolve(request, officer_token=officers[0])
    ttp.decide(request, officer_token=officers[1], approve=True)
    ttp.resolve(request, officer_token=officers[1])

    actions = _actions(ttp)
    for expected in [
        "pseudonimisering",
        "heridentificatie-verzoek",
        "heridentificatie-goedkeuring",
        "heridentificatie-goedkeuring-geweigerd",
        "heridentificatie-oplossen-geweigerd",
        "heridentificatie-uitgevoerd",
    ]:
        assert expected in actions
    assert actions.count("heridentificatie-goedkeuring") == 2
    log = ttp.audit.path.read_text(encoding="utf-8")
    assert BSNS[0] not in log
    assert ttp.audit.verify().intact


def test_only_re_identifiable_registries_keep_encrypted_bsns(ttp: TrustedThirdParty) -> None:
    p = Pseudonymiser.for_mode("production", registry="nivel", source="1", home=ttp.home)
    pseudonyms = p.pseudonymise(pl.Series(BSNS)).to_list()
    with pytest.raises(Forbidden):
        ttp.request_reidentification(
            "nivel", [str(x) for x in pseudonyms], reason="x", requested_by="y"
        )
    with ttp.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM reid WHERE registry='nivel'").fetchone()[0] == 0


def _source(
    ttp: TrustedThirdParty, values: list[str]
) -> tuple[Pseudonymiser, pl.Series, pl.Series]:
    """A source of the nhr registry, the BSNs as a series, and their stage-1 pseudonyms."""
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    bsns = pl.Series(values)
    return p, bsns, p.stage1(bsns)


def test_a_sealed_bsn_cannot_be_moved_to_another_row(ttp: TrustedThirdParty) -> None:
    p, bsns, p1 = _source(ttp, BSNS[:2])
    sealed = p.seal(bsns, p1)
    assert sealed is not None
    with pytest.raises(BatchRejected, match="Regel 1"):
        ttp.pseudonymise("nhr", p1, source="1", sealed=sealed.reverse())


@pytest.mark.parametrize("broken", [0, 1, 3])
def test_the_refusal_names_the_one_row_whose_sealed_bsn_does_not_belong_to_it(
    ttp: TrustedThirdParty, broken: int
) -> None:
    p, bsns, p1 = _source(ttp, BSNS)
    sealed = p.seal(bsns, p1)
    assert sealed is not None
    other = (broken + 1) % len(BSNS)
    moved = sealed.scatter(broken, sealed[other])
    with pytest.raises(BatchRejected, match=f"Regel {broken + 1}:"):
        ttp.pseudonymise("nhr", p1, source="1", sealed=moved)
    damaged = sealed.scatter(broken, "zb1s.x.y")  # not even a sealed value's shape
    with pytest.raises(BatchRejected, match=f"Regel {broken + 1}:"):
        ttp.pseudonymise("nhr", p1, source="1", sealed=damaged)


def test_every_pseudonym_of_a_batch_is_kept_once(
    ttp: TrustedThirdParty,
) -> None:
    pseudonyms = _upload(ttp.home, "1", [*BSNS, BSNS[0]])  # the first patient twice
    with ttp.store.connect() as db:
        kept = [r[0] for r in db.execute("SELECT pseudonym FROM reid")]
    digests = sorted({p.rsplit(":", 1)[1] for p in pseudonyms})
    assert sorted(kept) == digests


def test_an_embedded_upload_hands_the_bsns_over_without_sealing_them(
    ttp: TrustedThirdParty, officers: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Source, registry and TTP in one process: nothing travels, so nothing is sealed; what the
    # TTP keeps still resolves to the patients.
    def no_sealing(*args: object, **kwargs: object) -> None:
        raise AssertionError("an embedded upload sealed its BSNs")

    monkeypatch.setattr("zorgbroker.pseudonymisation.pipeline.seal_bsns", no_sealing)
    carriers = _upload(ttp.home, "11111111", BSNS)
    request = _request(ttp, carriers[1:3])
    ttp.decide(request, officer_token=officers[0], approve=True)
    ttp.decide(request, officer_token=officers[1], approve=True)
    result = ttp.resolve(request, officer_token=officers[1])
    with result.files[0].open(encoding="utf-8") as fh:
        assert sorted(row["bsn"] for row in csv.DictReader(fh, delimiter=";")) == sorted(BSNS[1:3])


@pytest.mark.parametrize("broken", [0, 2])
def test_a_bsn_handed_over_in_process_is_checked_as_an_opened_one(
    ttp: TrustedThirdParty, broken: int
) -> None:
    p, bsns, p1 = _source(ttp, BSNS)
    with pytest.raises(BatchRejected, match=f"Regel {broken + 1}: het BSN is geen geldig BSN"):
        ttp.pseudonymise("nhr", p1, source="1", bsns=bsns.scatter(broken, "123456789"))
    with pytest.raises(BatchRejected, match="niet evenveel"):
        ttp.pseudonymise("nhr", p1, source="1", bsns=bsns.head(3))
    with pytest.raises(ValueError, match="not both"):
        ttp.pseudonymise("nhr", p1, source="1", bsns=bsns, sealed=p.seal(bsns, p1))
    with ttp.store.connect() as db:
        assert db.execute("SELECT count(*) FROM reid").fetchone() == (0,)  # nothing kept


@pytest.mark.parametrize("handed_over", [True, False], ids=["in-process", "sealed"])
def test_a_large_batch_is_kept_packed_and_resolves_to_its_patients(
    ttp: TrustedThirdParty,
    officers: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    handed_over: bool,
) -> None:
    from tests.registry.conftest import valid_bsns
    from zorgbroker.pseudonymisation.siv_batch import BATCH_FROM
    from zorgbroker.pseudonymisation.ttp_store import TTPStore

    def row_by_row(*args: object) -> None:
        raise AssertionError("a large batch went to the store row by row")

    monkeypatch.setattr(TTPStore, "store_sealed_in_order", row_by_row)
    bsns = valid_bsns(BATCH_FROM + 200)
    bsns[7] = bsns[3]  # one patient twice: kept once
    p, series, p1 = _source(ttp, bsns)
    if handed_over:
        pseudonyms = ttp.pseudonymise("nhr", p1, source="1", bsns=series)
    else:
        pseudonyms = ttp.pseudonymise("nhr", p1, source="1", sealed=p.seal(series, p1))
    with ttp.store.connect() as db:
        kept = sorted(r[0] for r in db.execute("SELECT pseudonym FROM reid"))
    assert kept == sorted({str(x).rsplit(":", 1)[1] for x in pseudonyms})
    assert len(kept) == len(bsns) - 1
    # the audit entry counts the rows handed to the store, the repeat included, as before
    (entry,) = [e for e in ttp.audit.entries() if e["action"] == "pseudonimisering"]
    assert entry["details"]["heridentificeerbaar_opgeslagen"] == len(bsns)

    wanted = [0, 3, 7, len(bsns) - 1]
    request = _request(ttp, sorted({str(pseudonyms[i]) for i in wanted}))
    ttp.decide(request, officer_token=officers[0], approve=True)
    ttp.decide(request, officer_token=officers[1], approve=True)
    result = ttp.resolve(request, officer_token=officers[1])
    with result.files[0].open(encoding="utf-8") as fh:
        answered = sorted(row["bsn"] for row in csv.DictReader(fh, delimiter=";"))
    assert answered == sorted({bsns[i] for i in wanted})
