"""The one table helper of the tool: kubectl's plain style (left-aligned, columns 3 spaces apart) via tabulate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..sources.errors import printable

# kubectl's printers write through text/tabwriter with padding 3 (k8s.io/cli-runtime/pkg/printers/tabwriter.go).
GAP = "   "


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], no_headers: bool = False) -> str:
    """Rows under headers as `kubectl get` prints them; cells made printable, no trailing spaces, one final newline."""
    import tabulate as tab

    fmt = tab.TableFormat(
        lineabove=None,
        linebelowheader=None,
        linebetweenrows=None,
        linebelow=None,
        headerrow=tab.DataRow("", GAP, ""),
        datarow=tab.DataRow("", GAP, ""),
        padding=0,
        with_header_hide=None,
    )
    body = [[printable(str(cell)) for cell in row] for row in rows]
    if not body and no_headers:
        return ""
    # tabulate widens every column by MIN_PADDING when there are headers; kubectl does not
    saved, tab.MIN_PADDING = tab.MIN_PADDING, 0
    try:
        text = tab.tabulate(
            body,
            headers=() if no_headers else list(headers),
            tablefmt=fmt,
            disable_numparse=True,
            stralign="left",
            missingval="",
        )
    finally:
        tab.MIN_PADDING = saved
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
