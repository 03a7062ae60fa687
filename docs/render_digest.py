"""Draw docs/digest.png: the demo hub's portfolio digest as Slack shows it, from the Block Kit the bot sends.

    .venv/bin/python docs/render_digest.py            # needs Chromium (Debian: apt install chromium)

The demo hub is seeded, one week of news is added (a submission, a use case shipped and its retro), the digest
is built by the same code the clock runs and rendered by the Slack renderer; its blocks are then laid out as
Slack lays out sections and context blocks, and Chromium takes the picture.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bot.core import Core
from bot.demo import USE_CASES, seed_demo
from bot.rituals import digest
from bot.settings import Settings
from handlers.console.people import console_ref
from handlers.slack import chat
from intake import retros, stages
from intake.people import resolve_actor
from intake.queries import my_use_cases
from intake.schema import Stage
from storage.db import make_engine, make_session_factory, upgrade

OUT = Path(__file__).resolve().parent / "digest.png"
NAMES = {"lee": "Lee", "sam": "Sam", "ana": "Ana", "rita": "Rita"}
EMOJI = {":warning:": "⚠️", ":white_check_mark:": "✅", ":inbox_tray:": "📥", ":alarm_clock:": "⏰", ":rocket:": "🚀"}


def mrkdwn_html(text: str) -> str:
    """Slack's mrkdwn as HTML, enough for the digest: bold, code, mentions, dates, bullets, emoji."""
    # Slack's text escapes &, < and > in what people wrote; what is left in <…> is Slack's own markup.
    out = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    out = re.sub(
        r"<@([^|>]+)(?:\|[^>]*)?>", lambda m: f'<span class="at">@{NAMES.get(m.group(1), m.group(1))}</span>', out
    )
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", out)
    for code, char in EMOJI.items():
        out = out.replace(code, char)
    return out.replace("\n", "<br>")


def page(blocks: list[dict[str, Any]]) -> str:
    rows = []
    for b in blocks:
        if b["type"] == "section":
            rows.append(f'<div class="section">{mrkdwn_html(b["text"]["text"])}</div>')
        elif b["type"] == "context":
            rows.append(f'<div class="context">{" ".join(mrkdwn_html(e["text"]) for e in b["elements"])}</div>')
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ font: 15px/1.46 -apple-system, "Segoe UI", Lato, "Noto Sans", sans-serif; color: #1d1c1d; margin: 0;
       background: #fff; width: 760px; }}
.msg {{ display: flex; padding: 16px 20px; }}
.avatar {{ width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 700;
          display: flex; align-items: center; justify-content: center; margin-right: 10px; flex: none; }}
.name {{ font-weight: 900; }} .app {{ background: #e8e8e8; color: #616061; font-size: 10px; padding: 1px 3px;
       border-radius: 2px; margin-left: 4px; }} .time {{ color: #616061; font-size: 12px; margin-left: 6px; }}
.section {{ margin: 6px 0; }} .context {{ color: #616061; font-size: 13px; margin: 6px 0; }}
code {{ font-size: 12px; color: #e01e5a; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px;
        padding: 0 3px; }}
.at {{ color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }}
.channel {{ border-bottom: 1px solid #ddd; padding: 10px 20px; font-weight: 900; }}
</style><div class="channel"># ai-hub</div><div class="msg"><div class="avatar">H</div><div>
<span class="name">Hubspoke</span><span class="app">APP</span><span class="time">Mon 09:00</span>
{"".join(rows)}</div></div>"""


def build() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        upgrade(url)
        engine = make_engine(url)
        monday = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
        clock = [monday - dt.timedelta(days=5)]
        settings = Settings(_env_file=None, database_url=url, hub_timezone="Europe/London")
        core = Core(settings=settings, session_factory=make_session_factory(engine), clock=lambda: clock[0])
        seed_demo(core)
        # A week of news: the demo's use case in production engineering ships, and its owner writes the retro.
        for name in sorted({row.submitter for row in USE_CASES}):
            owner = core.run(resolve_actor, console_ref(name))[0]
            mine = core.read(my_use_cases, owner)
            shipping = next((u for u in mine if u.stage is Stage.PRODUCTION_ENGINEERING), None)
            if shipping is not None:
                core.run(stages.move_stage, owner, shipping.id, Stage.DEPLOYMENT)
                clock[0] += dt.timedelta(days=2)
                answers = retros.RetroAnswers(
                    worked="Pickers trusted the alerts once each came with the shelf's last scan.",
                    didnt="Seasonal lines were flagged weeks too early.",
                    differently="Bring the buyers in before the pilot, not after.",
                    metric_result="stock-outs down 31%",
                    metric_met=retros.MetricMet.MET,
                )
                core.run(retros.save_retro, owner, shipping.id, answers)
                break
        clock[0] = monday
        notice = core.read(
            digest.digest_notice,
            since=monday - dt.timedelta(days=7),
            now=monday,
            title="Portfolio digest, Mon 07 Dec 2026",
        )
        engine.dispose()
    assert notice is not None
    _, blocks = chat.render(notice)
    return blocks


def crop(path: Path) -> None:
    """Cut the blank page below the message."""
    from PIL import Image, ImageChops  # Pillow comes with matplotlib

    image = Image.open(path).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box:
        image.crop((0, 0, image.width, min(image.height, box[3] + 16))).save(path)


def main() -> int:
    blocks = build()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "digest.html"
        source.write_text(page(blocks))
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--hide-scrollbars",
                f"--screenshot={OUT}",
                "--window-size=760,1600",
                source.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    crop(OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
