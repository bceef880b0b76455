"""The on-host journal: every change is recorded (with a backup) *before* it is made.

Layout on the host (root-only: 0700 directories, 0600 files)::

    /var/backups/fix502/RUN_ID/journal.jsonl   one JSON record per change, appended first
    /var/backups/fix502/RUN_ID/files/N         the original bytes of file N (cp -p: owner, mode, times)

Each change is one remote shell script that appends its record, takes the backup and only then
changes the target, under ``set -e``: if the backup location is full or read-only the script stops
before touching anything.  Undo reads the journal backwards and is idempotent, so
``fix502 rollback`` works after the controller died at any point, even mid-change.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from remediations.errors import BackupFailed, CommandFailed, Fix502Error
from remediations.plan import Command, CreateFile, DeleteFile, MakeDir, Op, RemoveStale, Rename, Service, WriteFile
from remediations.transport import Runner, join, q, run_ok

BACKUP_ROOT = "/var/backups/fix502"

# Runs a service action the way the host's init does it.
SERVICE_SH = (
    "svc() { if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then "
    'if [ "$2" = enable ]; then systemctl enable "$1"; else systemctl "$2" "$1"; fi; '
    'else if [ "$2" = enable ]; then return 0; fi; service "$1" "$2"; fi; }'
)

# Is a service running now?  (systemd: is-active; sysv: the init script's status.)
STATUS_SH = (
    "active() { if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then "
    'systemctl is-active --quiet "$1"; else service "$1" status >/dev/null 2>&1; fi; }'
)

PREAMBLE = (
    "set -e; umask 077; "
    'D={d}; mkdir -p "$D/files"; chmod 700 {root} "$D" "$D/files"; '
    'J="$D/journal.jsonl"; touch "$J"; chmod 600 "$J"; '
)


# Back up "$P" as files/N: the copy keeps its times but is 0600 (backups hold secrets such as
# wp-config.php); owner and mode of the original go to files/N.meta so undo restores them.
BACKUP_SH = (
    'cp -p "$P" "$D/files/{n}" && chmod 600 "$D/files/{n}" && stat -c "%a %u %g" "$P" > "$D/files/{n}.meta" || exit 97'
)

# R := the file a (possibly symlinked) path names.  $(...) strips trailing newlines, which a file
# name may end with: the "." sentinel keeps them.
# A link is followed only from a directory no one but root can write: in wp-content the web user
# could have put it there (or swapped the file for it) to make root write wherever it points.
REAL_SH = (
    'real() { R=$(readlink -f -- "$1" && echo .) || return 1; R=${R%.}; R=${R%?}; '
    '[ "$R" = "$1" ] && return 0; case $(stat -L -c "%u %a" -- "${1%/*}") in "0 "*[0145][0145]) return 0 ;; esac; '
    'echo "$1 is a link in a directory others can write: not followed" >&2; return 1; }'
)

# A target's directory may be writable by the web user (wp-content): between two commands it can
# swap any name there for a symlink, so nothing after creation may follow one.  put PATH MODE UID
# GID creates a fresh name beside PATH in ONE open (noclobber: O_EXCL, refuses an existing name or
# link) with MODE already applied through the umask, writes stdin into it, chowns it with -h (a
# link swapped in is changed itself, never its target; hardlinks to others' files are refused by
# the kernel, fs.protected_hardlinks) and checks the result with lstat.  T is the verified temp
# file; the caller renames it over PATH with mv -T.  Modes with setuid/sticky bits are refused.
PUT_SH = (
    'put() { T=$(mktemp -u "${1%/*}/.fix502.XXXXXX") || return 1; '
    'case $2 in [0-7][0-7][0-7]) ;; *) echo "mode $2 of $1 not supported" >&2; return 1 ;; esac; '
    '( umask "$(printf %o $((0777 & ~0$2)))"; set -C; cat > "$T" ) || { echo "cannot create $T" >&2; return 1; }; '
    'chown -h -- "$3:$4" "$T" || { rm -f -- "$T"; return 1; }; '
    'case $(stat -c "%u:%g %a %h %F" -- "$T") in "$3:$4 $2 1 regular file" | "$3:$4 $2 1 regular empty file") ;; '
    '*) rm -f -- "$T"; echo "$T changed under us: not used" >&2; return 1 ;; esac; }'
)

# A rename in a directory the web user owns (wp-content, its caches, plugins) runs as that user:
# between two commands it can swap any name there — the parked plugins' directory, a cache
# directory — for a link to /etc, and root's mv would then move a file it chose (a single-file
# plugin) wherever the link points.  As the owner, a link leads nowhere the owner could not write
# anyway.  AS := the command prefix for renaming between directories $1 and $2 (both root's: none).
AS_OWNER_SH = (
    'as_owner() { AS=; [ "$(id -u)" = 0 ] || return 0; A=$(stat -c %u:%g -- "$1") && B=$(stat -c %u:%g -- "$2") '
    "|| return 1; case $A in 0:*) U=$B ;; *) U=$A ;; esac; "
    'case $B in 0:* | "$U") ;; *) echo "$1 and $2 belong to different users: not renamed" >&2; return 1 ;; esac; '
    "case $U in 0:*) return 0 ;; esac; "
    'command -v setpriv >/dev/null 2>&1 || { echo "no setpriv: cannot rename as the owner of $1" >&2; return 1; }; '
    'AS="setpriv --reuid=${U%%:*} --regid=${U#*:} --clear-groups --"; }'
)

# Undo: install backup B at path T's place atomically, with the original owner and mode.
RESTORE_SH = (
    PUT_SH + "; "
    'restore() { if [ -f "$1.meta" ]; then read -r M U G < "$1.meta"; else M=600 U=0 G=0; fi; '
    'put "$2" "$M" "$U" "$G" < "$1" && mv -fT -- "$T" "$2" || { [ -z "$T" ] || rm -f -- "$T"; return 1; }; }'
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Applied:
    """What applying one op did (for the report)."""

    op: Op
    changed: bool
    detail: str = ""


class Journal:
    """Applies plan ops on one host through the transport, journaling each first."""

    def __init__(self, transport: Runner, run_id: str, root: str | None = None) -> None:
        self.t = transport
        self.run_id = run_id
        root = root or BACKUP_ROOT  # BACKUP_ROOT as root; the account's own directory without root
        self.root = root
        self.dir = f"{root}/{run_id}"
        self.seq = 0

    # -- recording ----------------------------------------------------------------------------
    def _preamble(self) -> str:
        return PREAMBLE.format(d=q(self.dir), root=q(self.root))

    def _record(self, rec: dict[str, Any]) -> str:
        self.seq += 1
        rec = {"seq": self.seq, "time": time.time(), **rec}
        return f"printf '%s\\n' {q(json.dumps(rec, sort_keys=True))} >> \"$J\"; "

    def _run(self, script: str, what: str, stdin: str | None = None) -> str:
        result = self.t.run(script, stdin=stdin)
        if result.exit_status == 0:
            return result.stdout
        err = (result.stderr or result.stdout).strip().splitlines()
        last = err[-1] if err else "no output"
        if result.exit_status == 97:
            raise BackupFailed(f"{what}: cannot back up to {self.dir}: {last}; nothing changed", where=self.t.host.name)
        if result.exit_status == 98:
            raise Fix502Error(
                f"{what}: file changed on the host since it was read; nothing changed", where=self.t.host.name
            )
        raise CommandFailed(
            f"{what} failed (exit {result.exit_status}): {last}",
            where=self.t.host.name,
            exit_status=result.exit_status,
            stderr=result.stderr,
        )

    def begin(self, playbook: str, controller: str) -> None:
        rec = {"op": "begin", "run_id": self.run_id, "playbook": playbook, "controller": controller}
        self._run(self._preamble() + "{ " + self._record(rec) + "} || exit 97", "start journal")

    def mark(self, what: str, **fields: Any) -> None:
        self._run(self._preamble() + self._record({"op": "mark", "what": what, **fields}), f"journal {what}")

    # -- applying -----------------------------------------------------------------------------
    def apply(self, op: Op, fix_id: str) -> Applied:
        if isinstance(op, WriteFile):
            return self._write(op, fix_id)
        if isinstance(op, CreateFile):
            return self._create(op, fix_id)
        if isinstance(op, DeleteFile):
            return self._delete(op, fix_id)
        if isinstance(op, Rename):
            rec: dict[str, Any] = {"op": "rename", "fix": fix_id, "src": op.src, "dst": op.dst}
            script = (
                self._preamble() + AS_OWNER_SH + f"; S={q(op.src)}; T={q(op.dst)}; "
                '[ -e "$S" ] || [ -L "$S" ] || { echo "$S does not exist" >&2; exit 3; }; '
                '[ ! -e "$T" ] && [ ! -L "$T" ] || { echo "$T already exists" >&2; exit 3; }; '
                'as_owner "${S%/*}" "${T%/*}" || exit 95; '
                "{ " + self._record(rec) + '} || exit 97; $AS mv -T -- "$S" "$T"'
            )
            self._run(script, op.describe())
            return Applied(op, True)
        if isinstance(op, MakeDir):
            rec = {"op": "mkdir", "fix": fix_id, "path": op.path}
            script = (
                self._preamble() + f"P={q(op.path)}; L={q(op.like)}; "
                "{ " + self._record(rec) + "} || exit 97; "
                # Like $L, without following a link: mkdir alone (umask gives the mode, mkdir never
                # follows the last name), chown -h, then lstat must show the very directory we made.
                'set -- $(stat -L -c "%a %u %g" -- "$L"); '
                '( umask "$(printf %o $((0777 & ~0$1)))"; mkdir -- "$P" ); chown -h -- "$2:$3" "$P"; '
                '[ "$(stat -c "%u:%g %a %F" -- "$P")" = "$2:$3 $1 directory" ] '
                '|| { echo "$P changed under us" >&2; exit 95; }'
            )
            self._run(script, op.describe())
            return Applied(op, True)
        if isinstance(op, RemoveStale):
            n = self.seq + 1
            rec = {"op": "remove", "fix": fix_id, "path": op.path, "backup": f"files/{n}"}
            script = (
                self._preamble() + f"P={q(op.path)}; "
                '[ -e "$P" ] || [ -L "$P" ] || exit 0; '
                f'if [ -f "$P" ]; then {BACKUP_SH.format(n=n)}; fi; '
                "{ " + self._record(rec) + '} || exit 97; rm -f "$P"'
            )
            self._run(script, op.describe())
            return Applied(op, True)
        if isinstance(op, Service):
            rec = {"op": "service", "fix": fix_id, "name": op.name, "action": op.action, "was_active": "@W@"}
            record = self._record(rec).replace('"@W@"', "'\"$W\"'")
            script = (
                self._preamble()
                + SERVICE_SH
                + "; "
                + STATUS_SH
                + f"; W=false; active {q(op.name)} && W=true; "
                + "{ "
                + record
                + "} || exit 97; "
                + f"svc {q(op.name)} {q(op.action)}"
            )
            self._run(script, op.describe())
            return Applied(op, True)
        if isinstance(op, Command):
            rec = {"op": "command", "fix": fix_id, "argv": list(op.argv), "undo": list(op.undo or [])}
            script = self._preamble() + "{ " + self._record(rec) + "} || exit 97; " + join(*op.argv)
            self._run(script, op.describe())
            return Applied(op, True)
        raise TypeError(f"the journal cannot apply {type(op).__name__}")  # ConfigTest is the runner's

    def _write(self, op: WriteFile, fix_id: str) -> Applied:
        n = self.seq + 1
        rec = {"op": "write", "fix": fix_id, "path": op.path, "backup": f"files/{n}"}
        script = (
            self._preamble()
            + REAL_SH
            + f"; real {q(op.path)} || exit 98; P=$R; "
            + f'[ "$(sha256sum < "$P" | cut -d" " -f1)" = {q(sha256(op.before))} ] || exit 98; '
            + BACKUP_SH.format(n=n)
            + "; "
            + "{ "
            + self._record(rec)
            + "} || exit 97; "
            + PUT_SH
            + '; set -- $(stat -c "%a %u %g" -- "$P"); '
            # The new content arrives on stdin: a connection that dies mid-transfer leaves a short
            # file, which must never replace the target (cat exits 0 on a plain EOF).
            + 'put "$P" "$1" "$2" "$3" || exit 95; '
            + f'[ "$(sha256sum < "$T" | cut -d" " -f1)" = {q(sha256(op.after))} ] '
            + '|| { rm -f -- "$T"; echo "new content arrived incomplete" >&2; exit 96; }; '
            + 'mv -fT -- "$T" "$P"'
        )
        self._run(script, op.describe(), stdin=op.after)
        return Applied(op, True)

    def _delete(self, op: DeleteFile, fix_id: str) -> Applied:
        """Remove the name (never following it); its directory too when this run's CreateFile
        made it and it is empty again, so a finished run leaves wp-content as it found it."""
        rec: dict[str, Any] = {"op": "delete", "fix": fix_id, "path": op.path}
        made = q('"path": ' + json.dumps(op.path))
        script = (
            self._preamble() + REAL_SH + f'; P={q(op.path)}; real "${{P%/*}}" || exit 95; '
            'cd -P -- "$R" || exit 95; { ' + self._record(rec) + '} || exit 97; rm -f -- "${P##*/}"; '
            f'if grep -F {made} "$J" | grep -F \'"op": "create"\' | grep -qF \'"dir_made": true\'; '
            'then cd / && rmdir -- "$R" 2>/dev/null; fi; true'
        )
        self._run(script, op.describe())
        return Applied(op, True)

    def _create(self, op: CreateFile, fix_id: str) -> Applied:
        """The directory is entered once (``cd -P``) and everything after works on names inside
        it: the web user may swap a name in wp-content for a link at any moment, but not the
        directory our shell already stands in.  The record (written first) says whether the
        directory was made here, so undo removes exactly what this op made."""
        rec = {"op": "create", "fix": fix_id, "path": op.path, "dir_made": "@M@"}
        record = self._record(rec).replace('"@M@"', "'\"$MADE\"'")
        script = (
            self._preamble() + REAL_SH + "; " + PUT_SH + f"; P={q(op.path)}; DIR=${{P%/*}}; N=${{P##*/}}; "
            f"L={q(op.like)}; M={q(op.mode)}; MADE=false; "
            '[ -e "$DIR" ] || [ -L "$DIR" ] || MADE=true; '
            "{ " + record + "} || exit 97; "
            'if [ "$MADE" = true ]; then set -- $(stat -L -c "%a %u %g" -- "$L"); '
            '( umask "$(printf %o $((0777 & ~0$1)))"; mkdir -- "$DIR" ); chown -h -- "$2:$3" "$DIR"; '
            '[ "$(stat -c "%u:%g %a %F" -- "$DIR")" = "$2:$3 $1 directory" ] '
            '|| { echo "$DIR changed under us" >&2; exit 95; }; fi; '
            'real "$DIR" || exit 95; cd -P -- "$R" || exit 95; '
            '[ ! -e "$N" ] && [ ! -L "$N" ] || { echo "$P already exists" >&2; exit 3; }; '
            'set -- $(stat -c "%u %g" -- .); put "./$N" "$M" "$1" "$2" || exit 95; '
            + f'[ "$(sha256sum < "$T" | cut -d" " -f1)" = {q(sha256(op.content))} ] '
            + '|| { rm -f -- "$T"; echo "new content arrived incomplete" >&2; exit 96; }; '
            + 'mv -fT -- "$T" "$N"'
        )
        self._run(script, op.describe(), stdin=op.content)
        return Applied(op, True)

    # -- undoing ------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.t, self.run_id, root=self.root)

    def undo(self, fix_id: str | None = None) -> list[str]:
        """Undo this run's changes (only those of ``fix_id`` when given), newest first."""
        return undo_run(self.t, self.run_id, fix_id=fix_id, root=self.root)


def read_journal(t: Runner, run_id: str, *, root: str | None = None) -> list[dict[str, Any]]:
    root = root or BACKUP_ROOT
    out = run_ok(t, f"cat {q(root + '/' + run_id + '/journal.jsonl')}", what="read journal").stdout
    records = []
    for line in out.splitlines():
        line = line.strip()
        if line:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a record cut short by a dying connection: its change never started
    return records


def list_runs(t: Runner, *, root: str | None = None) -> list[str]:
    root = root or BACKUP_ROOT
    out = t.run(f"ls -1 {q(root)} 2>/dev/null || true").stdout
    return sorted(x for x in out.split() if x and not x.startswith("."))


def pending(records: list[dict[str, Any]], fix_id: str | None = None) -> list[dict[str, Any]]:
    """The records still to undo, newest first: not marked undone, and only ``fix_id``'s when given
    (one rule for the shell journal and the SFTP one)."""
    undone = {r["undoes"] for r in records if r.get("op") == "undone"}
    return [
        r
        for r in reversed(records)
        if r.get("op") != "undone" and r.get("seq") not in undone and not (fix_id and r.get("fix") != fix_id)
    ]


def undo_run(t: Runner, run_id: str, *, fix_id: str | None = None, root: str | None = None) -> list[str]:
    """Reverse the journal of ``run_id``.  Safe to repeat: each step checks before it acts."""
    root = root or BACKUP_ROOT
    records = read_journal(t, run_id, root=root)
    d = f"{root}/{run_id}"
    lines: list[str] = []
    services: dict[str, bool] = {}  # name -> was it running before this run first touched it
    script = [
        PREAMBLE.format(d=q(d), root=q(root)),
        "set +e; rc=0; ",
        SERVICE_SH,
        "; ",
        RESTORE_SH,
        "; ",
        REAL_SH,
        "; ",
        AS_OWNER_SH,
        "; ",
    ]
    for rec in pending(records, fix_id):
        seq = rec.get("seq")
        op = rec.get("op")
        step = ""
        if op == "write":
            b = f'"$D"/{q(rec["backup"])}'
            # The journal names the path as the fix saw it (often a symlink, sites-enabled/x): the
            # write replaced the file it points to, so undo must too, and keep the link a link.
            step = (
                f'if [ -f {b} ]; then if real {q(rec["path"])}; then restore {b} "$R" || rc=1; '
                'rm -f "${R%/*}"/.fix502.??????; else rc=1; fi; fi; '
            )
            lines.append(f"restore {rec['path']}")
        elif op == "rename":
            s, dst = q(rec["src"]), q(rec["dst"])
            # [ -e ] follows links: a link someone put at the source's place must not pass for it
            step = (
                f"if [ -e {dst} ] && [ ! -e {s} ] && [ ! -L {s} ]; then "
                f'P={dst}; Q={s}; {{ as_owner "${{P%/*}}" "${{Q%/*}}" && $AS mv -T -- {dst} {s}; }} || rc=1; fi; '
            )
            lines.append(f"rename {rec['dst']} -> {rec['src']}")
        elif op == "mkdir":
            # the directory we made, or a link swapped in for it (unlinking follows nothing)
            p = q(rec["path"])
            step = f"if [ -L {p} ]; then rm -f -- {p} || rc=1; else rmdir -- {p} 2>/dev/null; fi; "
            lines.append(f"remove dir {rec['path']}")
        elif op == "remove":
            b = f'"$D"/{q(rec["backup"])}'
            p = q(rec["path"])
            step = f"if [ -f {b} ] && [ ! -e {p} ]; then restore {b} {p} || rc=1; fi; "
            lines.append(f"restore {rec['path']}")
        elif op == "create":
            # only the name we made goes (rm never follows it), then the directory if we made it
            p = q(rec["path"])
            made = 'rmdir -- "${P%/*}" 2>/dev/null; ' if rec.get("dir_made") in (True, "true") else ""
            step = (
                f'P={p}; if [ -d "${{P%/*}}" ] && real "${{P%/*}}"; then '
                f'( cd -P -- "$R" && rm -f -- "${{P##*/}}" ) || rc=1; {made}fi; '
            )
            lines.append(f"remove {rec['path']}")
        elif op == "command" and rec.get("undo"):
            step = join(*rec["undo"]) + " || rc=1; "
            lines.append("run " + " ".join(rec["undo"]))
        elif op == "service":
            services[rec["name"]] = rec.get("was_active") in (True, "true")  # reversed: earliest wins
            continue
        else:
            continue
        mark = {"op": "undone", "undoes": seq, "time": time.time()}
        script.append(step + f"printf '%s\\n' {q(json.dumps(mark))} >> \"$J\"; ")
    # Services we touched are brought back in line with the restored files.
    for name, was_active in services.items():
        action = ("reload" if name in ("nginx", "apache2", "httpd") else "restart") if was_active else "stop"
        script.append(f"svc {q(name)} {action} >/dev/null 2>&1 || svc {q(name)} restart >/dev/null 2>&1 || rc=1; ")
        lines.append(f"service {name} {action}")
    script.append("exit $rc")
    result = t.run("".join(script))
    if result.exit_status != 0:
        raise CommandFailed(f"rollback of {run_id} incomplete: {result.stderr.strip()}", where=t.host.name)
    return lines
