#!/usr/bin/env python3
"""Check a headless-Chromium screenshot of report.html: the page is not blank, the chart bars
(their fill colours) are visible, and Chromium logged no console or resource errors. Writes
TILE_DIR/tile-N.png crops of the page (1,400 rows each) for people to look at.

usage: check_screenshot.py SHOT.png CHROMIUM.log TILE_DIR
Exits 1 when a check fails.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png  # noqa: E402

BAR = (0x4E, 0x79, 0xA7)        # SVGChart.palette[0]: bars
ERRORS = (0xE1, 0x57, 0x59)     # SVGChart.highlightFill: tool errors, cutoff line
BACKGROUND = (0xD9, 0xE2, 0xEC)  # funnel: a stage's input behind what it kept

# Chromium log lines that mean the page itself had a problem (not the sandbox's dbus noise).
PAGE_ERRORS = re.compile(r"CONSOLE|Uncaught|Failed to load resource|net::ERR_|Refused to|SyntaxError|Mixed Content", re.I)


def near(px, colour, tolerance=6):
    return all(abs(a - b) <= tolerance for a, b in zip(px, colour))


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    shot, log, tiles = argv[1:]
    width, height, rows = png.read(shot)
    # The page's content ends at the last row with ink; the window was taller than the page.
    last = 0
    for y in range(height - 1, -1, -1):
        r = rows[y]
        if any(min(r[i], r[i + 1], r[i + 2]) < 235 for i in range(0, len(r), 12)):
            last = y
            break
    content = rows[:last + 1]
    share, colours = png.ink(content)
    counts = {"bar": 0, "errors": 0, "background": 0}
    for y in range(0, len(content), 2):
        r = content[y]
        for x in range(0, width, 2):
            px = (r[3 * x], r[3 * x + 1], r[3 * x + 2])
            if near(px, BAR):
                counts["bar"] += 1
            elif near(px, ERRORS):
                counts["errors"] += 1
            elif near(px, BACKGROUND):
                counts["background"] += 1
    problems = []
    if last < 1000:
        problems.append(f"the page is only {last + 1} rows tall")
    if share < 0.02:
        problems.append(f"the page is nearly blank ({share:.1%} non-white)")
    if colours < 16:
        problems.append(f"only {colours} colours: no charts rendered?")
    if counts["bar"] < 5000:
        problems.append(f"chart bars barely visible ({counts['bar']} sampled bar pixels)")
    if counts["errors"] < 20:
        problems.append(f"no error/cutoff marks visible ({counts['errors']} sampled pixels)")
    if counts["background"] < 200:
        problems.append(f"no funnel input bars visible ({counts['background']} sampled pixels)")
    with open(log, encoding="utf-8", errors="replace") as f:
        page_errors = [line.strip() for line in f if PAGE_ERRORS.search(line)]
    if page_errors:
        problems.append(f"{len(page_errors)} console/resource errors, first: {page_errors[0][:200]}")
    os.makedirs(tiles, exist_ok=True)
    n = 0
    for top in range(0, len(content), 1400):
        n += 1
        png.write(os.path.join(tiles, f"tile-{n}.png"), width, content[top:top + 1400])
    print(f"{shot}: {width}x{last + 1} px of page, {share:.1%} non-white, {colours} colours; "
          f"sampled pixels: bars {counts['bar']}, errors/cutoff {counts['errors']}, funnel input {counts['background']}; "
          f"{len(page_errors)} console errors; {n} tiles in {tiles}")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
