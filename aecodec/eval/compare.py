"""A page to compare codecs by eye: ``compare.html`` beside a benchmark's results, no server, no network.

For each image, every codec at its setting whose bpp on that image is closest to a chosen bpp (the nearest
setting, not equal bytes) behind a split slider over the original, and 4x crops of the image's most detailed
region side by side; then the RD plots and the BD-rate table. The pictures are PNG files in ``compare/`` beside
the page (lossless, so what shows is what the codec decoded). With ``#selftest`` in its address the page checks
itself (every picture loaded, every slider moves its split) and says so in its title, for a headless browser to
read.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
from PIL import Image

from .metrics import BD_METRICS
from .specs import decoded as decode_setting
from .summary import Summary

CROP = 96  # pixels of the detailed region, shown at 4x


def detailed_region(im: Image.Image, size: int = CROP) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the ``size`` square with the most gradient energy (the region where codecs
    differ most), on a 16-pixel grid."""
    g = np.asarray(im.convert("L"), dtype=np.float64)
    size = min(size, g.shape[0], g.shape[1])
    energy = np.zeros_like(g)
    energy[:, 1:] += np.abs(np.diff(g, axis=1))
    energy[1:, :] += np.abs(np.diff(g, axis=0))
    s = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, where = -1.0, (0, 0)
    for top in range(0, g.shape[0] - size + 1, 16):
        for left in range(0, g.shape[1] - size + 1, 16):
            e = s[top + size, left + size] - s[top, left + size] - s[top + size, left] + s[top, left]
            if e > best:
                best, where = e, (left, top)
    return where[0], where[1], where[0] + size, where[1] + size


def matched(points: list, image: str, codec: str, target_bpp: float):
    """The point of ``codec`` on ``image`` whose bpp is closest to ``target_bpp``."""
    mine = [p for p in points if p.image == image and p.codec == codec]
    return min(mine, key=lambda p: abs(p.bpp - target_bpp)) if mine else None


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}
h2{margin-top:40px}.split{position:relative;display:inline-block;line-height:0;max-width:100%}
.split img{max-width:100%;height:auto}.split .over{position:absolute;top:0;left:0;width:100%;height:100%;
clip-path:inset(0 50% 0 0)}.split .over img{width:100%;height:100%}
.split .divider{position:absolute;top:0;bottom:0;left:50%;width:2px;margin-left:-1px;background:#fff;
box-shadow:0 0 0 1px rgba(0,0,0,.6);pointer-events:none}
.controls{margin:8px 0}.crops{display:flex;flex-wrap:wrap;gap:12px}.crops figure{margin:0}
.crops img{width:384px;height:384px;image-rendering:pixelated}figcaption{font-size:13px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
.plots img{max-width:48%}
"""

_SCRIPT = """
const errors=[];window.addEventListener('error',e=>errors.push(e.message||'error'));
function setSplit(range){const over=document.getElementById(range.dataset.over);
  over.style.clipPath='inset(0 '+(100-range.value)+'% 0 0)';
  document.getElementById(range.dataset.divider).style.left=range.value+'%';}
function setCodec(sel){const img=document.getElementById(sel.dataset.img);img.src=sel.value;
  document.getElementById(sel.dataset.label).textContent=sel.options[sel.selectedIndex].text;}
document.querySelectorAll('input[type=range]').forEach(r=>{r.addEventListener('input',()=>setSplit(r));setSplit(r);});
document.querySelectorAll('select').forEach(s=>s.addEventListener('change',()=>setCodec(s)));
if(location.hash==='#selftest'){window.addEventListener('load',()=>{
  const imgs=[...document.images];const broken=imgs.filter(i=>!i.complete||i.naturalWidth===0).map(i=>i.src);
  let moved=0;document.querySelectorAll('input[type=range]').forEach(r=>{
    const over=document.getElementById(r.dataset.over);const before=getComputedStyle(over).clipPath;
    const divider=document.getElementById(r.dataset.divider);const at=divider.getBoundingClientRect().left;
    r.value=20;r.dispatchEvent(new Event('input'));
    if(getComputedStyle(over).clipPath!==before&&divider.getBoundingClientRect().left<at)moved++;});
  const codecs=new Set([...document.querySelectorAll('[data-codec]')].map(e=>e.dataset.codec));
  const ok=!errors.length&&!broken.length&&moved===document.querySelectorAll('input[type=range]').length;
  document.title=(ok?'selftest ok':'selftest failed')+': '+imgs.length+' images, '+moved+' sliders moved, '
    +codecs.size+' codecs ['+[...codecs].join(',')+']'+(broken.length?', broken: '+broken.join(' '):'')
    +(errors.length?', errors: '+errors.join(' | '):'');});}
"""


def write_page(out: Path, images: list[Path], codecs: list[str], points: list, summary: Summary,
               target_bpp: float) -> Path:
    """``out/compare.html`` and its pictures in ``out/compare/``: each shown setting coded once more by the
    benchmark's own coder; the RD plots are the benchmark's, beside the page."""
    folder = out / "compare"
    folder.mkdir(parents=True, exist_ok=True)
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>aecodec: codecs compared at "
             f"{target_bpp:g} bpp</title><style>{_STYLE}</style></head><body>",
             f"<h1>Codecs compared by eye at about {target_bpp:g} bpp</h1><p>Each codec at its setting closest to "
             f"{target_bpp:g} bpp on each image. Move the split slider: left of the white divider is the chosen "
             "codec, right of it the original. Below, the image's most detailed region at 4x.</p>"]
    for n, path in enumerate(images):
        original = Image.open(path).convert("RGB")
        stem = f"img{n}"
        original.save(folder / f"{stem}_original.png")
        box = detailed_region(original)
        original.crop(box).save(folder / f"{stem}_original_crop.png")
        choices, crops = [], [f"<figure><img src='compare/{stem}_original_crop.png' alt='original'>"
                               f"<figcaption>original</figcaption></figure>"]
        for c, codec in enumerate(codecs):
            p = matched(points, path.name, codec, target_bpp)
            if p is None:
                continue
            decoded = decode_setting(codec, p.quality, original).convert("RGB")
            name = f"{stem}_{c}"
            decoded.save(folder / f"{name}.png")
            decoded.crop(box).save(folder / f"{name}_crop.png")
            label = f"{codec} q{p.quality:g}: {p.bpp:.3f} bpp, {p.psnr:.2f} dB, {p.bytes} bytes"
            choices.append((f"compare/{name}.png", label, codec))
            crops.append(f"<figure data-codec='{e(codec)}'><img src='compare/{name}_crop.png' alt='{e(codec)}'>"
                         f"<figcaption>{e(label)}</figcaption></figure>")
        if not choices:
            continue
        options = "".join(f"<option value='{e(src)}' data-codec='{e(codec)}'>{e(label)}</option>"
                          for src, label, codec in choices)
        parts.append(
            f"<h2>{e(path.name)} ({original.width}x{original.height})</h2>"
            f"<div class='controls'><label>codec <select data-img='{stem}_codec' data-label='{stem}_label'>"
            f"{options}</select></label> <label>split <input type='range' min='0' max='100' value='50' "
            f"data-over='{stem}_over' data-divider='{stem}_divider'></label> "
            f"<span id='{stem}_label'>{e(choices[0][1])}</span></div>"
            f"<div class='split'><img src='compare/{stem}_original.png' alt='original'>"
            f"<div class='over' id='{stem}_over'><img id='{stem}_codec' src='{e(choices[0][0])}' alt='codec'></div>"
            f"<div class='divider' id='{stem}_divider'></div></div>"
            f"<p>Most detailed region ({box[2] - box[0]} px square at {box[0]},{box[1]}), 4x:</p>"
            f"<div class='crops'>{''.join(crops)}</div>")
    parts.append("<h2>Rate-distortion</h2><div class='plots'>"
                 + "".join(f"<img src='rd_{m.name}.png' alt='RD {m.label}'>" for m in BD_METRICS
                           if (out / f"rd_{m.name}.png").exists()) + "</div>")
    bd = summary.bd_rate
    why = {c: w for c, w in bd.why_none.items() if w}  # a column for the reasons only if there are any
    rows = "".join(
        f"<tr><td style='text-align:left'>{e(c)}</td>"
        + "".join("<td>n/a</td>" if math.isnan(bd[m.name][c]) else f"<td>{bd[m.name][c]:.1f}%</td>"
                  for m in BD_METRICS)
        + (f"<td style='text-align:left'>{e(why.get(c, ''))}</td>" if why else "") + "</tr>"
        for c in bd[BD_METRICS[0].name])
    head = "<th>codec</th>" + "".join(f"<th>{m.label}</th>" for m in BD_METRICS) + ("<th>why n/a</th>" if why else "")
    parts.append(f"<h2>BD-rate against {e(bd.anchor)}</h2><p>Negative: fewer bits at the same quality.</p>"
                 f"<table><tr>{head}</tr>{rows}</table>"
                 f"<script>{_SCRIPT}</script></body></html>")
    page = out / "compare.html"
    page.write_text("\n".join(parts))
    return page
