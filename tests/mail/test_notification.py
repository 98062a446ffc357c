"""The notification when an upload finishes, as the uploader receives it."""

from __future__ import annotations

import io
from collections.abc import Callable
from email.message import EmailMessage

from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tests.concurrently import at_once
from tests.mail.conftest import SmtpServer, free_port, smtp_settings, submit_and_dispatch
from tests.registry.conftest import AGB, Registry, nhr_row, valid_bsns
from tests.stage1 import make_ttp_unusable
from zorgbroker.cli import app
from zorgbroker.mail.mailbox import list_mailbox, read_message, text_body
from zorgbroker.mail.outbox import park, pending, send_pending
from zorgbroker.mail.recipients import LOCAL_MAILBOX
from zorgbroker.mail.transport import write_to_mailbox

ADDRESS = "kwaliteit@ziekenhuis.example"
#: Identifying values of the input; none of them may reach a mail.
BAD_BSN, NAME, BIRTH_DATE = "123456789", "Vermeulen-Zwart", "1950-03-04"


def two_rows_one_bad() -> list[dict[str, str]]:
    good = valid_bsns(1)[0]
    return [
        nhr_row(bsn=good, achternaam=NAME, geboortedatum=BIRTH_DATE),
        nhr_row(bsn=BAD_BSN, achternaam=NAME, geboortedatum=BIRTH_DATE, serienummer="XYZ98765",
                lead1_serienummer="L9991", lead2_serienummer="L9992"),
    ]  # fmt: skip


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    return str(part.get_filename()), bytes(part.get_content())  # type: ignore[attr-defined]


def workbook_text(data: bytes) -> str:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = []
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).to_python():
            cells += [str(c) for c in row]
    return "\n".join(cells)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_a_finished_upload_mails_the_organisation_a_dutch_summary_with_the_report(
    home: Callable[..., Registry], smtp_server: SmtpServer
):
    smtp_server.start()
    registry = home(mail_to_organisations=f'{{"{AGB}": "{ADDRESS}"}}',
                    mail_from="register@example.nl", **smtp_settings(smtp_server))  # fmt: skip
    path = registry.nhr_file(two_rows_one_bad())

    upload_id = submit_and_dispatch(registry, path)

    (message,) = smtp_server.inbox.messages
    assert smtp_server.inbox.recipients == [[ADDRESS]]
    assert message["From"] == "register@example.nl"
    assert message["Subject"] == (
        f"Aanlevering {upload_id} (nhr-pmicd) verwerkt: 1 van 2 records geaccepteerd"
    )
    text = body(message)
    for expected in ("Dataset:", "nhr-pmicd (versie 2026.1)", f"Bestand:      {path.name}",
                     "Modus:        productie", "Status:       verwerkt", "Records:      2",
                     "Geaccepteerd: 1", "Afgewezen:    1", "1 nieuw, 0 gewijzigd, 0 ongewijzigd",
                     "F-301", "elfproef", f"zorgbroker report {upload_id}"):  # fmt: skip
        assert expected in text
    name, data = attachment(message)
    assert name == f"rapport-aanlevering-{upload_id}.xlsx"
    cells = workbook_text(data)
    assert "F-301" in cells
    everything = message.as_string() + cells
    for secret in (BAD_BSN, *valid_bsns(2), NAME, BIRTH_DATE, "19500304", "04-03-1950"):
        assert secret not in everything


def test_with_the_server_down_the_upload_completes_and_the_mail_goes_out_when_it_is_back(
    home: Callable[..., Registry], smtp_server: SmtpServer
):
    registry = home(mail_to=ADDRESS, **smtp_settings(smtp_server))  # nothing listens yet

    upload_id = submit_and_dispatch(registry, registry.nhr_file([nhr_row()]))

    info = registry.service().get(upload_id)
    assert info is not None and info.status == "done"
    assert registry.held().height == 1
    assert len(pending(registry.settings)) == 1
    code, output = run("mail", "--send-pending")
    assert code == 1
    assert "0 bericht(en) verstuurd, 1 wachten nog" in output
    assert "1 bericht(en) wachten op verzending" in run("mail")[1]

    smtp_server.start()
    code, output = run("mail", "--send-pending")

    assert code == 0
    assert "1 bericht(en) verstuurd, 0 wachten nog" in output
    (message,) = smtp_server.inbox.messages
    assert message["Subject"].startswith(f"Aanlevering {upload_id} (nhr-pmicd) verwerkt")
    assert pending(registry.settings) == []


def test_the_next_mail_that_gets_through_takes_the_waiting_ones_along(
    home: Callable[..., Registry], smtp_server: SmtpServer
):
    registry = home(mail_to=ADDRESS, **smtp_settings(smtp_server))
    first = submit_and_dispatch(registry, registry.nhr_file([nhr_row()]), mode="test")
    smtp_server.start()

    second = submit_and_dispatch(registry, registry.nhr_file([nhr_row()]), mode="test")

    uploads = sorted(int(m["X-Zorgbroker-Upload"]) for m in smtp_server.inbox.messages)
    assert uploads == [first, second]
    assert pending(registry.settings) == []


def test_waiting_mail_sent_by_several_processes_at_once_goes_out_once(
    home: Callable[..., Registry], smtp_server: SmtpServer
):
    registry = home(mail_to=ADDRESS, **smtp_settings(smtp_server))
    for upload_id in range(1, 6):
        message = EmailMessage()
        message["Subject"] = f"bericht {upload_id}"
        message["To"] = ADDRESS
        message["From"] = "zorgbroker@localhost"
        message["X-Zorgbroker-Upload"] = str(upload_id)
        message.set_content("tekst")
        park(message, registry.settings)
    smtp_server.start()
    at_once(lambda: send_pending(registry.settings), times=4)

    subjects = sorted(m["Subject"] for m in smtp_server.inbox.messages)
    assert subjects == [f"bericht {i}" for i in range(1, 6)]
    assert pending(registry.settings) == []


def test_without_smtp_the_mail_lands_in_the_mailbox_that_zorgbroker_mail_shows(
    home: Callable[..., Registry],
):
    registry = home(user="root")
    upload_id = submit_and_dispatch(registry, registry.nhr_file(two_rows_one_bad()))

    (entry,) = list_mailbox(registry.settings)
    # No recipient configured: the local mailbox's documented address (README, "E-mail"), not
    # one made up from the login name (root@localhost).
    assert entry.to == LOCAL_MAILBOX == "postbus@localhost"
    assert entry.attachments == (f"rapport-aanlevering-{upload_id}.xlsx",)
    code, listing = run("mail")
    assert code == 0
    assert "verwerkt: 1 van 2 records" in listing
    code, shown = run("mail", "1")
    assert code == 0
    assert "Onderwerp: Aanlevering" in shown
    assert "Meldingen per code:" in shown and "F-301" in shown
    assert f"Bijlagen: rapport-aanlevering-{upload_id}.xlsx" in shown
    assert run("mail", "2")[0] == 2


def test_with_a_server_and_no_recipient_the_mail_is_kept_in_the_mailbox_not_dropped(
    home: Callable[..., Registry], smtp_server: SmtpServer
):
    smtp_server.start()
    registry = home(user="jansen", **smtp_settings(smtp_server))

    upload_id = submit_and_dispatch(registry, registry.nhr_file([nhr_row()]))

    assert smtp_server.inbox.messages == []  # nobody to send it to
    (entry,) = list_mailbox(registry.settings)
    assert entry.to == LOCAL_MAILBOX
    assert entry.subject.startswith(f"Aanlevering {upload_id} (nhr-pmicd) verwerkt")
    assert f"Aanlevering {upload_id}" in run("mail")[1]


def test_the_uploaders_own_address_comes_first(home: Callable[..., Registry]):
    registry = home(user="j.jansen@ziekenhuis.example", mail_to="fallback@example.nl",
                    mail_to_organisations=f'{{"{AGB}": "{ADDRESS}"}}')  # fmt: skip
    submit_and_dispatch(registry, registry.nhr_file([nhr_row()]))

    (entry,) = list_mailbox(registry.settings)
    assert entry.to == "j.jansen@ziekenhuis.example"


def test_a_failed_upload_is_mailed_with_the_reason_and_no_report(home: Callable[..., Registry]):
    registry = home()
    upload_id = registry.receive(registry.nhr_file([nhr_row()]))
    make_ttp_unusable(registry.settings.home)  # the registry's stage 2 fails
    registry.dispatch(upload_id)

    info = registry.service().get(upload_id)
    assert info is not None and info.status == "failed"
    (entry,) = list_mailbox(registry.settings)
    assert entry.subject == f"Aanlevering {upload_id} (nhr-pmicd) mislukt"
    assert entry.attachments == ()
    text = text_body(read_message(entry.path))
    assert "Status:       mislukt" in text
    assert f"Reden: {info.error}" in text
    assert "Er is niets opgeslagen." in text


def test_mail_can_be_switched_off(home: Callable[..., Registry]):
    registry = home(mail_enabled="false")
    submit_and_dispatch(registry, registry.nhr_file([nhr_row()]))
    assert list_mailbox(registry.settings) == []


def test_an_unusable_port_leaves_the_free_port_helper_honest():
    # A port from free_port() has nobody listening: the "server down" tests rely on it.
    import socket

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", free_port())) != 0


def test_mailbox_listing_reads_what_the_transport_wrote(home: Callable[..., Registry]):
    registry = home()
    message = EmailMessage()
    message["Subject"] = "proef"
    message["To"] = ADDRESS
    message.set_content("tekst")
    write_to_mailbox(message, registry.settings)
    (entry,) = list_mailbox(registry.settings)
    assert (entry.number, entry.subject, entry.to) == (1, "proef", ADDRESS)
    assert oct(entry.path.stat().st_mode & 0o777) == "0o600"


def test_two_simultaneous_submits_of_one_file_mail_it_once(home: Callable[..., Registry]):
    registry = home(user="jansen")
    path = registry.nhr_file(two_rows_one_bad())
    ids = at_once(lambda: submit_and_dispatch(registry, path))
    entries = list_mailbox(registry.settings)
    if ids[0] == ids[1]:  # the second submit joined the first upload: one mail for it
        assert len(entries) == 1
    else:  # or came after it: an upload, and a mail, each
        assert len(entries) == 2
    assert sorted(e.attachments for e in entries) == sorted(
        (f"rapport-aanlevering-{i}.xlsx",) for i in set(ids)
    )
