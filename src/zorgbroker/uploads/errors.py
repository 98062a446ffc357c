"""What can go wrong with an upload, each with a Dutch message for the user."""

from __future__ import annotations


class UploadError(Exception):
    """The upload cannot be taken in or shown as asked (a usage error); a Dutch message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadNotFound(UploadError):
    def __init__(self, upload_id: int) -> None:
        super().__init__(f"aanlevering {upload_id} bestaat niet")
        self.upload_id = upload_id


class NoReport(UploadError):
    """The upload has no report (yet): it waits, is being processed, failed or was stopped."""

    def __init__(self, upload_id: int, status: str, message: str) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.status = status


class ProcessingFailed(Exception):
    """Processing stopped; the upload is marked failed and can be processed again."""

    def __init__(self, upload_id: int, message: str) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.message = message


class UploadInterrupted(KeyboardInterrupt):
    """Processing was interrupted (Ctrl-C); the upload is marked stopped and its file removed.

    A KeyboardInterrupt still, so that whoever does not know about uploads stops as before."""

    def __init__(self, upload_id: int) -> None:
        super().__init__(upload_id)
        self.upload_id = upload_id
