"""Text nobody vouches for (a student id, a message, a file's line), made inert for the people who read it.

A terminal runs the escape sequences in what it prints (a new title, erased lines, a link), and a
spreadsheet runs a cell that starts with ``= + - @`` as a formula (``=HYPERLINK(...)``). Student ids
are folder names a student chose (``nbgrader submit --student`` takes almost any string), and
messages quote student code, so every line grade-all writes for people goes through here,
whatever its source: control and format characters become their visible escapes (``\\x1b``,
``\\u202e``), and a CSV cell that a spreadsheet would run starts with ``'`` (OWASP's remedy for CSV
injection).
"""

import unicodedata

# Unicode categories a terminal or an editor acts on rather than shows: controls (ESC, BEL, CR, DEL, the C1
# range), format characters (the bidirectional overrides of "Trojan Source"), line and paragraph separators,
# and surrogates (the bytes of a file name that are not UTF-8, as Python decodes them).
INERT_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
# The first characters a spreadsheet takes for a formula (OWASP, "CSV Injection"); tab and carriage return,
# also on OWASP's list, are escaped before this is checked.
FORMULA_STARTS = ("=", "+", "-", "@")


def escaped(character: str) -> str:
    """One character as Python writes it in a string literal: ``\\x1b``, ``\\u202e``, ``\\udcff``."""
    return repr(character)[1:-1]


def shown(text: str, keep: str = "") -> str:
    """``text`` with every character of ``INERT_CATEGORIES`` but those in ``keep`` written as its escape."""
    return "".join(escaped(c) if c not in keep and unicodedata.category(c) in INERT_CATEGORIES else c for c in text)


def log_text(text: str) -> str:
    """``text`` for a log a person reads in a terminal: its lines and tabs kept, every other control escaped."""
    return shown(text, keep="\n\t")


def csv_cell(text: str) -> str:
    """``text`` as one CSV cell: on one line, nothing escaped left, and a leading ``'`` where a spreadsheet would
    otherwise take it for a formula."""
    text = shown(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
