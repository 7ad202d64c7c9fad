"""Checks shared by the CLI bad-input tests of the datagen, replay and calibration commands."""

from __future__ import annotations


def error_line(capsys) -> str:
    """The one ``error: …`` line the last command printed on stderr; fails on a traceback or on none or
    several such lines."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
