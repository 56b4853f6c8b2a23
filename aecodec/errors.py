"""One exception family, so callers catch ``AecError`` and the CLI maps each subclass to an exit code.

``EXIT_CODES`` is the one table of the command line's exit codes (``aecodec --help`` prints it)."""

EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "other aecodec error",
    2: "usage error (bad option or argument)",
    3: "unreadable input image or array",
    4: "invalid or corrupted .aec file",
    5: "model or weights mismatch (the file needs other weights: --weights FILE)",
    6: "unknown codec or quality",
    7: "output cannot be written (exists without --force, is a folder, or its folder is missing or unwritable)",
    130: "interrupted",
}


MAX_MESSAGE = 400  # characters: a message names what went wrong, never echoes an input


def reason(e: BaseException, limit: int = 160) -> str:
    """The first line of another library's exception (its type when it says nothing), bounded: what an
    ``AecError`` quotes of a failure it reports."""
    return ((str(e).strip().splitlines() or [type(e).__name__])[0])[:limit]


class AecError(Exception):
    """Base of every error aecodec raises on purpose. Its message is one line of at most ``MAX_MESSAGE``
    characters, whatever it quotes."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        one_line = " ".join(str(message).split())
        if len(one_line) > MAX_MESSAGE:
            one_line = one_line[:MAX_MESSAGE - 3] + "..."
        super().__init__(one_line)


class InputImageError(AecError):
    """The input image cannot be read or is not an image."""

    exit_code = 3


class FormatError(AecError):
    """The bitstream is not a valid .aec file: bad magic, unknown version, truncated, CRC mismatch."""

    exit_code = 4


class ModelMismatchError(AecError):
    """The bitstream or a weights file names a codec or weights this installation cannot use."""

    exit_code = 5


class UnknownCodecError(AecError):
    """A codec name or quality that is not in the registry."""

    exit_code = 6


class OutputError(AecError):
    """The output cannot be written: exists without --force, is a folder, or its folder is missing."""

    exit_code = 7


class AecWarning(UserWarning):
    """Something was changed on the way (16-bit reduced to 8, metadata dropped); the CLI prints it."""
