"""The console at a real terminal (a pseudo-terminal): a multi-line paste into a question is one answer (issue 9, 16).

Piped input stays one answer a line, so scripts keep working; at a terminal, lines that arrive together after
the one that was read were pasted, and belong to the same answer.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PROBLEM = "Finance guesses invoice volumes by hand.\nThe AP team is staffed wrong every month."


def read_until(fd: int, wanted: str, seen: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in "".join(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} never appeared in:\n{''.join(seen)}"
        if select.select([fd], [], [], left)[0]:
            seen.append(os.read(fd, 65536).decode(errors="replace"))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_a_multi_line_paste_is_one_answer(tmp_path: Path) -> None:
    db = tmp_path / "hubspoke.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUB_", "DATABASE_URL", "TEAMS_"))}
    env.update({"DATABASE_URL": f"sqlite:///{db}", "TERM": "dumb", "INPUTRC": "/dev/null"})
    script = Path(sys.executable).with_name("hubspoke")
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [str(script), "console", "--as", "lee"], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env
    )
    os.close(slave)
    seen: list[str] = []
    try:
        read_until(master, "Lee (lead)> ", seen)
        os.write(master, b"/hub department add Finance\n")
        read_until(master, "Department Finance added.", seen)
        os.write(master, b"/usecase\n")
        read_until(master, "Title", seen)
        os.write(master, b"Forecast invoice volumes\n")
        read_until(master, "Problem", seen)
        os.write(master, PROBLEM.encode() + b"\n")  # pasted: both lines at once
        read_until(master, "Department:", seen)
        read_until(master, "Choose 1: ", seen)
        for answer in ("1", "Right-sized team", "Late payments down 30% by Q3", "", "1", "2", "1", "1", "", ""):
            os.write(master, answer.encode() + b"\n")
            time.sleep(0.2)  # typed, one by one
        read_until(master, "Saved. #1 Forecast invoice volumes", seen)
        os.write(master, b"/quit\n")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT title, problem, benefit FROM use_cases")).one()
    engine.dispose()
    assert tuple(stored) == ("Forecast invoice volumes", PROBLEM, "Right-sized team")
