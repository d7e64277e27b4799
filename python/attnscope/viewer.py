"""The attention viewer in a notebook: the self-contained attention.html page (the one
`attnscope attention` writes, from the engine's html_viewer) inside an iframe's srcdoc, so its
script runs where a notebook would not run a script of the output itself; sandboxed (scripts
only), and with no network: everything is in the page."""

import html
import os
import tempfile

def height_for(tokens):
    """A frame tall enough for the head view of `tokens` tokens on its longer side (the viewer
    scrolls inside the frame beyond that)."""
    return min(1400, 380 + 26 * tokens)


def inline(page, height):
    """The HTML of an iframe `height` pixels tall that shows `page`."""
    height = int(height)
    return (
        '<iframe class="attnscope-viewer" sandbox="allow-scripts" '
        f'style="width: 100%; height: {height}px; border: 1px solid #ccc; border-radius: 4px;" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(page, height):
    """Inline in a Jupyter kernel; elsewhere the page is written to a temporary file whose path is
    returned (open it in a browser: it needs no server)."""
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(inline(page, height)))
        return None
    fd, path = tempfile.mkstemp(prefix="attnscope-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
    print(f"attnscope: the viewer is in {path} (open it in a browser)")
    return path


def alignment_table(a):
    """An alignment as an HTML table: one row per target unit, its weights over the source units
    (shaded) and its links in bold."""
    linked = set(a.links)
    head = "".join(f"<th>{html.escape(s)}</th>" for s in a.source_labels)
    rows = []
    for t, label in enumerate(a.target_labels):
        cells = []
        for s in range(len(a.source_labels)):
            w = float(a.soft[t, s])
            style = f"background: rgba(49, 130, 189, {min(max(w, 0.0), 1.0):.3f});"
            text = f"<b>{w:.2f}</b>" if (s, t) in linked else f"{w:.2f}"
            cells.append(f'<td style="{style}">{text}</td>')
        rows.append(f"<tr><th>{html.escape(label)}</th>{''.join(cells)}</tr>")
    caption = html.escape(f"{a.source}: rows are output words, columns source words; bold = a link")
    return (
        f'<table class="attnscope-alignment"><caption>{caption}</caption>'
        f"<tr><th></th>{head}</tr>{''.join(rows)}</table>"
    )
