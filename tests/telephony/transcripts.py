"""Readers for the recorded AMI/ESL transcripts in tests/fixtures (format: see their READMEs)."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
Frame = list[tuple[str, str]]


def ami(name: str) -> tuple[str, list[Frame], list[Frame]]:
    """(banner, client actions, server frames) of an .ami transcript."""
    text = (FIXTURES / "asterisk" / name).read_bytes().decode()
    client, server = [], []
    for line in text.split("\r\n"):
        (client if line.startswith(">> ") or line == ">> " else server).append(
            line[3:] if line.startswith(">>") else line
        )
    banner = server.pop(0)
    return banner, _blocks(client), _blocks(server)


def _blocks(lines: list[str]) -> list[Frame]:
    frames, current = [], []
    for line in lines:
        if line == "":
            if current:
                frames.append(current)
            current = []
        else:
            key, _, value = line.partition(": ")
            current.append((key.rstrip(":"), value))
    if current:
        frames.append(current)
    return frames


def esl(name: str) -> tuple[list[str], list[tuple[Frame, str]]]:
    """(client commands, server frames as (headers, body)) of an .esl transcript, framed by Content-Length."""
    text = (FIXTURES / "freeswitch" / name).read_bytes().decode()
    commands = re.findall(r">> (.*)\n", text)
    stream = re.sub(r">> .*\n", "", text)
    frames, pos = [], 0
    while pos < len(stream):
        end = stream.index("\n\n", pos)
        headers = [tuple(line.split(": ", 1)) for line in stream[pos:end].split("\n") if line]
        pos = end + 2
        length = int(dict(headers).get("Content-Length", 0))
        body = stream[pos : pos + length]
        pos += length
        frames.append((headers, body))
    return commands, frames
