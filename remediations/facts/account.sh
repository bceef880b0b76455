# fix502 account evidence: what the site's own account can read, without root or sudo, in ONE command.
# POSIX sh (runs under dash).  Runs as the login user itself (the site owner on shared hosting).
# Usage: sh account.sh SITE_URL [LOG_LINES] [WP_ROOT]
# stdin: one line, the run's boundary (32 hex digits, random per run, chosen by the controller).
# Output: sections framed exactly as evidence.sh frames them ("\n==fix502:BOUNDARY KIND[ ARG]==\n").
# Read-only: it never changes a file outside its own temporary directory.  WordPress's own code is
# run only as this very account (it is the site's owner: PHP-FPM runs the same code as it).

B=
IFS= read -r B
case $B in
    *[!0-9a-f]* | '') B=x ;;
esac
if [ ${#B} -ne 32 ]; then
    echo "fix502: no section boundary on stdin (32 hex digits expected)" >&2
    exit 2
fi
url=$1
lines=${2:-400}
case $lines in '' | *[!0-9]*) lines=400 ;; esac
hint=${3:-}
rest=${url#*://}
hostport=${rest%%/*}
host=${hostport%%:*}
nl='
'
T=
if command -v timeout >/dev/null 2>&1; then T="timeout 20"; fi
tmpd=$(mktemp -d 2>/dev/null) || { tmpd=${HOME:-/tmp}/.fix502-ev.$$; mkdir -m 700 "$tmpd" || exit 1; }
trap 'rm -rf "$tmpd"' EXIT

sec() { printf '\n==fix502:%s %s==\n' "$B" "$*"; }
note() { printf '%s\n' "$*" >>"$tmpd/notes"; }
# a name fit for a section header: one line, no control characters
plain() { case $1 in *"$nl"* | *[[:cntrl:]]*) return 1 ;; esac; return 0; }

sec meta
date '+now=%s%ntz=%z'
echo "hostname=$(hostname 2>/dev/null)"
echo "user=$(id -un)"
echo "uid=$(id -u)"
echo "home=$HOME"

# ---- the site, on this host (curl --resolve to the address we came in on) --------------------
scheme=${url%%://*}
port=${hostport#"$host"}
port=${port#:}
if [ -z "$port" ]; then
    if [ "$scheme" = https ]; then port=443; else port=80; fi
fi
# shellcheck disable=SC2086
set -- ${SSH_CONNECTION:-}
addr=${3:-127.0.0.1}
case $addr in *:*) raddr="[$addr]" ;; *) raddr=$addr ;; esac
base=${url%/}
probe() {
    sec "probe $1"
    echo "url=$base$1"
    if ! command -v curl >/dev/null 2>&1; then
        echo "error=curl not installed"
        return 0
    fi
    res=$(curl -sS -k -o "$tmpd/body" -D "$tmpd/head" -w '%{http_code} %{time_total}' --max-time 20 \
        --resolve "$host:$port:$raddr" "$base$1" 2>"$tmpd/curlerr")
    echo "curl_rc=$?"
    echo "result=$res"
    if [ -s "$tmpd/curlerr" ]; then IFS= read -r e <"$tmpd/curlerr"; echo "error=$e"; fi
    [ -f "$tmpd/head" ] && sed -n 's/\r$//; s/^[Ss][Ee][Rr][Vv][Ee][Rr]:[[:space:]]*/server=/p' "$tmpd/head" | tail -n 1
    if [ -f "$tmpd/body" ]; then
        if head -c 262144 "$tmpd/body" | grep -q 'content="WordPress'; then echo generator=yes; else echo generator=no; fi
        head -c 65536 "$tmpd/body" | tr '\r\n' '  ' | sed -n 's/.*<[Tt][Ii][Tt][Ll][Ee][^>]*>\([^<]*\)<\/[Tt][Ii][Tt][Ll][Ee]>.*/title=\1/p' | cut -c1-206
    fi
    rm -f "$tmpd/body" "$tmpd/head" "$tmpd/curlerr"
}
probe /
# PHP alone, without WordPress's plugins or theme: version.php only assigns variables
probe /wp-includes/version.php

# ---- WordPress: its files, and its data read by its own code as this account ---------------------
root=
for r in "$hint" "$HOME/public_html" "$HOME/www" "$HOME/htdocs" "$HOME/httpdocs" "$HOME/wordpress" "$HOME" \
    "$HOME"/domains/*/public_html; do
    [ -n "$r" ] || continue
    if [ -f "$r/wp-load.php" ]; then root=${r%/}; break; fi
done
sec wordpress
echo "root=$root"
if [ -n "$root" ]; then
    echo "version=$(sed -n "/^\$wp_version[[:space:]]*=/{s/^[^']*'\([^']*\)'.*/\1/p;q;}" "$root/wp-includes/version.php" 2>/dev/null)"
    wc=$root/wp-content
    LC_ALL=C QUOTING_STYLE=c stat -c 'entry=%Y|%N' -- "$wc"/plugins/* "$wc"/mu-plugins/* "$wc"/plugins.fix502-* 2>/dev/null
    if ! command -v php >/dev/null 2>&1; then
        echo "error=php-cli not installed"
    else
        # SHORTINIT loads wp-config.php and $wpdb but no plugin or theme: safe even when a plugin is the fault.
        code=@WP_DATA_PHP@
        (cd "$root" && FIX502_HOST=$host $T php -d display_errors=0 -d log_errors=0 -r "$code" </dev/null 2>/dev/null |
            grep -E '^(data|error)=' | head -n 1 | cut -c1-8000)
    fi

    # ---- page caches and drop-ins (what can keep serving a broken page) ----------------------
    sec dropins
    for d in advanced-cache.php object-cache.php; do
        if [ -L "$wc/$d" ]; then echo "dropin=$d|link|$(stat -c %Y -- "$wc/$d" 2>/dev/null)|0"
        elif [ -f "$wc/$d" ]; then echo "dropin=$d|file|$(stat -c '%Y|%s' -- "$wc/$d")"
        fi
    done
    if [ -r "$root/wp-config.php" ]; then
        if grep -Eq "^[[:space:]]*define[[:space:]]*\([[:space:]]*['\"]WP_CACHE['\"][[:space:]]*,[[:space:]]*(true|1)" "$root/wp-config.php"; then
            echo "wp_cache=yes"
        else
            echo "wp_cache=no"
        fi
    else
        echo "wp_cache=unknown"
        note "cannot read $root/wp-config.php"
    fi
    # wp-config.php itself (its secrets are masked in everything fix502 prints): the memory-limit fix
    # edits it surgically, and only when the account may write both the file and its directory
    if [ -r "$root/wp-config.php" ] && [ -w "$root/wp-config.php" ] && [ -w "$root" ]; then
        echo "wp_config_writable=yes"
        sec "file $root/wp-config.php"
        head -c 262144 -- "$root/wp-config.php"
        echo
    fi
    sec caches
    # WP Super Cache, W3 Total Cache (page_enhanced, page), WP Rocket, LiteSpeed Cache (plugin data)
    for c in cache/supercache cache/page_enhanced cache/page cache/wp-rocket cache/litespeed litespeed; do
        if [ -L "$wc/$c" ]; then echo "cache=$c|link|0"
        elif [ -d "$wc/$c" ]; then echo "cache=$c|dir|$(find "$wc/$c" -type f 2>/dev/null | head -n 100000 | wc -l)"
        fi
    done
fi

# ---- PHP error logs the account owns --------------------------------------------------------
for f in ${root:+"$root/wp-content/debug.log" "$root/error_log" "$root/wp-admin/error_log"} \
    "$HOME"/logs/*error* "$HOME"/logs/*.log; do
    [ -f "$f" ] || continue
    plain "$f" || { note "log with an unprintable name skipped in $HOME/logs"; continue; }
    grep -qxF -- "$f" "$tmpd/seen" 2>/dev/null && continue
    echo "$f" >>"$tmpd/seen"
    if [ -r "$f" ]; then
        sec "log $f"
        tail -n "$lines" -- "$f"
    else
        note "cannot read $f"
    fi
done

# ---- PHP settings the account may set itself -------------------------------------------------
for f in ${root:+"$root/.user.ini" "$root/php.ini"} "$HOME/.user.ini" "$HOME/php.ini"; do
    [ -f "$f" ] || continue
    if [ -r "$f" ]; then
        sec "file $f"
        head -n 200 -- "$f"
        echo
    else
        note "cannot read $f"
    fi
done

sec lastchange
for j in "$HOME"/.fix502/backups/*/journal.jsonl; do [ -f "$j" ] && stat -c %Y "$j"; done 2>/dev/null | sort -n | tail -n 1
sec notes
[ -f "$tmpd/notes" ] && cat "$tmpd/notes"
sec end
