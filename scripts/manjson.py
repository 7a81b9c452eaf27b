#!/usr/bin/env python3
"""manjson: writes the sfproxy.json(5) manual page to standard output, its key list made
from the key tables of docs/configuration.md, so that the two never disagree.

  scripts/manjson.py docs/configuration.md > build/man/sfproxy.json.5   (make does this)

Every table whose header row is | key | default | meaning | is read, in the file's order,
whatever section it sits in: a new key is a row in its topic's table, a new topic a section
with a table of its own."""
import re
import sys

HEAD = r""".TH SFPROXY.JSON 5 "2026-11-30" "sfproxy 0.1.0" "File Formats"
.SH NAME
sfproxy.json \- sfproxy configuration file
.SH DESCRIPTION
One JSON object.
Every key is optional; the defaults below apply to what a file leaves out, and
.B sfproxy \-\-print\-config
prints the effective configuration.
Keys with a dot are members of an object:
.B cache.max_bytes
is
.B "\(dqmax_bytes\(dq"
inside
.BR "\(dqcache\(dq" .
Byte sizes take a number or a string such as
.BR "\(dq256MiB\(dq" ,
.BR "\(dq64KiB\(dq" ,
.BR "\(dq10MB\(dq" ;
durations take milliseconds or a string such as
.BR "\(dq1500ms\(dq" ,
.BR "\(dq5s\(dq" ,
.BR "\(dq2m\(dq" ,
.BR "\(dq1h\(dq" ,
.BR "\(dq1d\(dq" .
.PP
A bad file stops
.B sfproxy
with its name, line and column, what is wrong and what to write instead.
.SH KEYS
"""

TAIL = r""".SH EXAMPLE
.nf
.RS
{
  "listen": "127.0.0.1:8080",
  "upstream": "http://127.0.0.1:9000",
  "cache": {"max_bytes": "256MiB", "stale_while_revalidate": "30s"},
  "access_log": {"path": "/var/log/sfproxy/access.log", "format": "json"}
}
.RE
.fi
.SH SEE ALSO
.BR sfproxy (8)
"""


def roff(text):
    """Markdown of one table cell as troff text."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links: their text
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = text.replace("-", "\\-").replace('"', "\\(dq")
    return text


KEY_TABLE = "| key | default | meaning |"


def main():
    lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
    rows = []
    in_table = False
    for line in lines:
        if line.strip() == KEY_TABLE:
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if in_table and len(cells) == 3 and line.startswith("| `"):
            rows.append(cells)
    if len(rows) < 30:
        sys.exit("manjson: only %d keys found in the key tables of %s" % (len(rows), sys.argv[1]))
    out = [HEAD.rstrip("\n")]
    for key, default, meaning in rows:
        out.append(".TP")
        out.append("%s (default %s)" % (roff(key), roff(default)))
        out.append(roff(meaning))
    sys.stdout.write("\n".join(out) + "\n" + TAIL)


if __name__ == "__main__":
    main()
