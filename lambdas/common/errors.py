"""The error types a Lambda reports in its callback (docs/CONTRACTS.md)."""

from __future__ import annotations

from typing import ClassVar

ERROR_TYPES = ("InvalidInput", "InputNotFound", "FFmpegError", "Timeout", "InternalError")


class LambdaError(Exception):
    """A failure the function reports through its callback with `error_type`."""

    error_type: ClassVar[str] = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(LambdaError):
    """The event or one of the input files is not acceptable."""

    error_type = "InvalidInput"


class InputNotFound(LambdaError):
    """An input URI names an object that does not exist (or cannot be read)."""

    error_type = "InputNotFound"


class FFmpegError(LambdaError):
    """FFmpeg exited non-zero; the message carries the tail of its stderr."""

    error_type = "FFmpegError"


class FFmpegTimeout(LambdaError):
    """FFmpeg ran past its deadline and was killed."""

    error_type = "Timeout"


class InternalError(LambdaError):
    """Anything else: a bug or an infrastructure failure."""

    error_type = "InternalError"
