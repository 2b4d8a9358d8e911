"""Runs a command and reports its peak resident set size (the child's ru_maxrss from wait4), in KiB, on
standard output; the command's own output goes to the files given. Exits with the command's status.
Usage: peak_rss.py STDOUT_FILE STDERR_FILE -- COMMAND [ARG...]"""
import os
import subprocess
import sys

out, err = sys.argv[1], sys.argv[2]
cmd = sys.argv[4:] if sys.argv[3] == "--" else sys.argv[3:]
with open(out, "wb") as o, open(err, "wb") as e:
    p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
