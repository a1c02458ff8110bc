"""Reads a printed sheet with tools machizu does not share, and says what is on it (JSON).

poppler's pdfinfo (page size) and pdftotext (the text), pdfplumber (where the rectangles and
pictures are, in points from the top-left), and poppler's pdftoppm (the page drawn at 50 dpi:
its size, and how much of it is not white). The test compares this with the sheet it asked for.

    check_pdf.py SHEET.pdf
"""

import json
import re
import subprocess
import sys
import tempfile

import pdfplumber
from PIL import Image


def main(path):
    info = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    text = subprocess.run(["pdftotext", "-layout", path, "-"], check=True, capture_output=True, text=True).stdout
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        rects = [
            {"x0": r["x0"], "x1": r["x1"], "top": r["top"], "bottom": r["bottom"],
             "stroke": bool(r.get("stroke")), "fill": bool(r.get("fill"))}
            for r in page.rects
        ]
        images = [
            {"x0": i["x0"], "x1": i["x1"], "top": i["top"], "bottom": i["bottom"], "px": list(i["srcsize"])}
            for i in page.images
        ]
        pages = len(pdf.pages)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["pdftoppm", "-r", "50", "-png", "-singlefile", path, f"{d}/page"], check=True)
        img = Image.open(f"{d}/page.png").convert("L")
        inked = sum(1 for v in img.getdata() if v < 200) / (img.width * img.height)
        drawn = {"width": img.width, "height": img.height, "inked_share": inked}
    json.dump({
        "pages": pages,
        "page_pt": [float(size.group(1)), float(size.group(2))],
        "pdf_version": re.search(r"PDF version:\s+([\d.]+)", info).group(1),
        "title": (re.search(r"Title:\s+(.*)", info) or [None, None])[1],
        "text": text,
        "rects": rects,
        "images": images,
        "drawn": drawn,
    }, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
