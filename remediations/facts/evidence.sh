# fix502 evidence script: everything the diagnosis needs, read in ONE ssh command.
# POSIX sh (runs under dash); needs nothing but coreutils/procps/iproute2 on the target.
# Usage: sh evidence.sh SITE_URL [LOG_LINES]                      everything but WordPress's own data
#        sh evidence.sh SITE_URL LOG_LINES wpdata WP_ROOT USER      only WordPress's data (second round trip)
# stdin: one line, the run's boundary (32 hex digits, random per run, chosen by the controller).
# Output: sections, each introduced by "\n==fix502:BOUNDARY KIND[ ARG]==\n". The boundary is never in
# argv (every local user can read /proc/*/cmdline) and never given to another program, so nothing
# the host prints (logs, nginx -T, file names a web user chose) can start or end a section.
# File names from directories the web user can write are printed C-quoted (stat %N, LC_ALL=C).
# Cost matters (a fleet diagnosis runs this on every host at once, on the hosts' own CPUs): the
# expensive readers (apache2ctl, php-fpm -t, php loading WordPress) only run when their answer can
# matter, and each says so in its section when it was skipped.
# Read-only: it never changes a file outside its own temporary directory.
# Test hooks (never set on a real host): FIX502_ROOT prefixes every default path,
# FIX502_PROBE_ADDR overrides the address the probe connects to.

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
mode=${3:-}
R=${FIX502_ROOT:-}
rest=${url#*://}
hostport=${rest%%/*}
host=${hostport%%:*}

T=
if command -v timeout >/dev/null 2>&1; then T="timeout 10"; fi
tmpd=$(mktemp -d 2>/dev/null) || { tmpd=/tmp/fix502-ev.$$; mkdir -m 700 "$tmpd" || exit 1; }
trap 'rm -rf "$tmpd"' EXIT
: >"$tmpd/files"
: >"$tmpd/logs"
: >"$tmpd/unix"
: >"$tmpd/roots"

sec() { printf '\n==fix502:%s %s==\n' "$B" "$*"; }
note() { printf '%s\n' "$*" >>"$tmpd/notes"; }
rc() { sec "rc $1"; echo "$2"; }
# print a file as its own section and remember it for the stat list at the end
showfile() {
    [ -f "$1" ] || return 0
    if [ -r "$1" ]; then
        sec "file $1"
        cat "$1"
        echo "$1" >>"$tmpd/files"
    else
        note "cannot read $1"
    fi
}
# the digits of a pid file (no fork: this runs on every host of a fleet at once)
readpid() {
    p=
    IFS= read -r p <"$1" 2>/dev/null
    case $p in *[!0-9]*) p=$(tr -dc '0-9' <"$1" 2>/dev/null) ;; esac
}
# "pidfile KIND PATH": the master pid a service recorded and whether it is still alive
pidinfo() {
    sec "pidfile $1"
    echo "path=$2"
    if [ -f "$2" ]; then
        readpid "$2"
        echo "pid=$p"
        if [ -n "$p" ] && [ -d "/proc/$p" ]; then echo "alive=yes"; else echo "alive=no"; fi
    else
        echo "exists=no"
    fi
}
# "binstat PATH": owner and mode of PATH's real path and of every directory above it, as
# binary_stat= lines: fix502 runs it as root only when all are root's alone (facts/trust.py decides).
binstat() {
    real=$(readlink -f -- "$1" 2>/dev/null)
    echo "binary_real=$real"
    [ -n "$real" ] || return 1
    set -- "$real"
    a=${real%/*}
    while [ -n "$a" ]; do
        set -- "$@" "$a"
        a=${a%/*}
    done
    nstat=$(($# + 1))
    stat -L -c 'binary_stat=%u|%a|%F|%n' -- "$@" / 2>/dev/null | tee "$tmpd/binstat"
}
# after binstat: true when they all are (uid 0, not group/world-writable, a regular file, outside the
# places other users can write).  This script runs a host-named binary (-t, -v) only then; the
# controller checks again before any plan runs it.
bintrusted() {
    case $real in
        '' | /tmp/* | /var/tmp/* | /dev/shm/* | /run/user/* | /var/www/* | /srv/* | /home/* | */wp-content/* | */uploads/*) return 1 ;;
    esac
    awk -F'|' -v n="$nstat" '{ u = $1; sub(/^binary_stat=/, "", u); m = substr($2, length($2) - 1) }
        u != "0" || m ~ /[2367]/ || (NR == 1 && $3 != "regular file") { bad = 1 }
        END { exit bad || NR != n }' "$tmpd/binstat"
}
unq() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"; }
# the same, as an awk function for scripts that parse a whole config in one pass
AWKUNQ='function unq(s) {
    sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
    if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2)
    return s
}'

nl='
'
# a name fit for a section header: one line, no control characters
plain() { case $1 in *"$nl"* | *[[:cntrl:]]*) return 1 ;; esac; return 0; }
# "safecat REL head BYTES | tail LINES": the bytes of $root/REL only when it is a regular file reached
# through no link at all.  In wp-content the site's code may swap any name (or wp-content itself) for
# a link — to /etc/shadow, to another site's files — or a FIFO: the file is opened once, and that open
# file must be a regular file whose path, as the kernel resolved it, is $rroot/REL exactly (no link on
# the way) and the very inode the name shows (lstat).  Returns 1, printing nothing, otherwise.
safecat() {
    [ -f "$root/$1" ] && [ ! -L "$root/$1" ] || return 1
    {
        [ "$(readlink /dev/fd/5)" = "$rroot/$1" ] || return 1
        a=$(stat -L -c '%d:%i:%F' /dev/fd/5)
        case $a in *:"regular file" | *:"regular empty file") ;; *) return 1 ;; esac
        [ "$a" = "$(stat -c '%d:%i:%F' -- "$root/$1")" ] || return 1
        if [ "$2" = head ]; then head -c "$3" <&5; else tail -n "$3" <&5; fi
    } 5<"$root/$1" 2>/dev/null
}
# WordPress's caches, drop-ins, wp-config.php and its own PHP error logs, in the account evidence's
# formats (account.sh): root reads them with stat, find and safecat only — never WordPress's PHP.
wpfiles() {
    # the site's own PHP error logs first (printed last): whether wp-config.php is needed at all
    : >"$tmpd/wpidx"
    rroot=$(readlink -f -- "$root")  # the configured root itself may be a link (a release directory)
    n=0
    for f in wp-content/debug.log error_log wp-admin/error_log; do
        n=$((n + 1))
        safecat "$f" tail "$lines" >"$tmpd/wplog$n" && echo "$n $root/$f" >>"$tmpd/wpidx"
    done
    oom=no
    [ -s "$tmpd/wpidx" ] && grep -q 'Allowed memory size of [0-9]* bytes exhausted' "$tmpd"/wplog[0-9] 2>/dev/null && oom=yes
    # drop-ins and caches are what root may rename later: not through a wp-content that is a link
    wcok=yes
    [ "$(readlink -f -- "$wc")" = "$rroot/wp-content" ] || {
        wcok=no
        note "$wc is reached through a link: its drop-ins and page caches are not read (nor moved)"
    }
    sec dropins
    for d in advanced-cache.php object-cache.php; do
        [ $wcok = yes ] || break
        if [ -L "$wc/$d" ]; then echo "dropin=$d|link|$(stat -c %Y -- "$wc/$d" 2>/dev/null)|0"
        elif [ -f "$wc/$d" ]; then echo "dropin=$d|file|$(stat -c '%Y|%s' -- "$wc/$d" 2>/dev/null)"
        fi
    done
    # wp-config.php only when it can matter (a healthy host pays nothing): WP_CACHE decides whether
    # advanced-cache.php is loaded; its text (secrets: the controller masks them in all it prints) is
    # for the one fix that edits it, the memory limit, when PHP ran out of memory
    if [ $oom = no ] && [ ! -f "$wc/advanced-cache.php" ] && [ ! -L "$wc/advanced-cache.php" ]; then
        echo "wp_cache=unknown"
    elif safecat wp-config.php head 262144 >"$tmpd/wpconfig"; then
        if grep -Eq "^[[:space:]]*define[[:space:]]*\([[:space:]]*['\"]WP_CACHE['\"][[:space:]]*,[[:space:]]*(true|1)" "$tmpd/wpconfig"; then
            echo "wp_cache=yes"
        else
            echo "wp_cache=no"
        fi
        echo "wp_config_writable=yes"
        if [ $oom = yes ]; then
            sec "file $root/wp-config.php"
            cat "$tmpd/wpconfig"
            echo
        fi
    else
        echo "wp_cache=unknown"
        if [ -e "$root/wp-config.php" ] || [ -L "$root/wp-config.php" ]; then
            note "$root/wp-config.php not read: not a plain file reached without a link (links are never followed)"
        fi
    fi
    sec caches
    # WP Super Cache, W3 Total Cache (page_enhanced, page), WP Rocket, LiteSpeed Cache (plugin data)
    for c in cache/supercache cache/page_enhanced cache/page cache/wp-rocket cache/litespeed litespeed; do
        [ $wcok = yes ] || break
        if [ -L "$wc/$c" ]; then echo "cache=$c|link|0"
        elif [ -d "$wc/$c" ]; then echo "cache=$c|dir|$(find "$wc/$c" -type f 2>/dev/null | head -n 100000 | wc -l)"
        fi
    done
    # quoted as evidence only: the site's code writes these, they never stand for nginx's or FPM's lines
    while read -r n f; do
        sec "wplog $f"
        cat "$tmpd/wplog$n"
    done <"$tmpd/wpidx"
}

# WordPress's own data (active plugins, theme) through its own loader: costs a PHP start and a
# database query, so fix502 asks for it in a second round trip, only when the site is not healthy.
# The site's code is whatever a compromised site made it: it never runs as root, only as the user
# PHP-FPM already runs it as on every request ($2, chosen by the controller from the pool), through
# setpriv (util-linux: no PAM session, no shell, no new privileges), within a timeout.
wpdata() {
    if ! command -v php >/dev/null 2>&1; then
        echo "error=php-cli not installed"
        return 0
    fi
    if ! command -v setpriv >/dev/null 2>&1; then
        echo "error=setpriv (util-linux) not installed: WordPress's code is never run as root"
        return 0
    fi
    wu=$(id -u -- "$2" 2>/dev/null)
    wg=$(id -g -- "$2" 2>/dev/null)
    case $wu$wg in
        '' | *[!0-9]*)
            echo "error=no user to run WordPress's code as (got '$2'): it is never run as root"
            return 0
            ;;
    esac
    if [ "$wu" -eq 0 ] || [ "$wg" -eq 0 ]; then
        echo "error=refusing to run WordPress's code as root (user '$2')"
        return 0
    fi
    # SHORTINIT loads wp-config.php and $wpdb but no plugin or theme: safe even when a plugin is the fault.
    code=@WP_DATA_PHP@
    (cd "$1" && FIX502_HOST=$host $T setpriv --reuid="$wu" --regid="$wg" --init-groups --no-new-privs -- \
        php -d display_errors=0 -d log_errors=0 -r "$code" </dev/null 2>/dev/null |
        grep -E '^(data|error)=' | head -n 1 | cut -c1-8000)
}

if [ "$mode" = wpdata ]; then
    sec wpdata
    if [ -f "$4/wp-load.php" ]; then wpdata "$4" "${5:-}"; else echo "error=no wp-load.php in $4"; fi
    sec wpend
    exit 0
fi

# ---- 1. meta -------------------------------------------------------------------------------
sec meta
date '+now=%s%ntz=%z'
h=
[ -r /proc/sys/kernel/hostname ] && read -r h </proc/sys/kernel/hostname
[ -n "$h" ] || h=$(hostname 2>/dev/null)
echo "hostname=$h"
if [ -r /proc/uptime ]; then read -r up _ </proc/uptime && echo "uptime=$up"; fi
echo "lines=$lines"
# test hook only: every path the script reads is under this prefix (processes are the machine's)
[ -n "$R" ] && echo "root=$R"

# ---- 2. probe (first, so a failure it causes is logged inside the window) -------------------
sec probe
echo "url=$url"
scheme=${url%%://*}
port=${hostport#"$host"}
port=${port#:}
if [ -z "$port" ]; then
    if [ "$scheme" = https ]; then port=443; else port=80; fi
fi
# shellcheck disable=SC2086
set -- ${SSH_CONNECTION:-}
addr=${3:-127.0.0.1}
[ -n "${FIX502_PROBE_ADDR:-}" ] && addr=$FIX502_PROBE_ADDR
case $addr in *:*) raddr="[$addr]" ;; *) raddr=$addr ;; esac
echo "resolve=$host:$port:$addr"
if command -v curl >/dev/null 2>&1; then
    res=$(curl -sS -k -o "$tmpd/body" -D "$tmpd/head" -w '%{http_code} %{time_total}' --max-time 20 \
        --resolve "$host:$port:$raddr" "$url" 2>"$tmpd/curlerr")
    echo "curl_rc=$?"
    echo "result=$res"
    if [ -s "$tmpd/curlerr" ]; then IFS= read -r e <"$tmpd/curlerr"; echo "error=$e"; fi
    # One awk for the last Server header, the WordPress generator tag (first 256 KiB) and the last
    # <title> (first 64 KiB): every fork here is paid on every host of a fleet at once.
    set --
    hx=
    bx=
    if [ -f "$tmpd/head" ]; then hx=1; set -- "$@" "$tmpd/head"; fi
    if [ -f "$tmpd/body" ]; then bx=1; set -- "$@" "$tmpd/body"; fi
    [ $# -gt 0 ] && awk -v hf="$tmpd/head" -v bf="$tmpd/body" -v hx="$hx" -v bx="$bx" '
        FILENAME == hf {
            sub(/\r$/, "")
            if (tolower(substr($0, 1, 7)) == "server:") { v = substr($0, 8); sub(/^[ \t]+/, "", v); server = v }
            next
        }
        FILENAME == bf {
            n += length($0) + 1
            if (n - length($0) - 1 < 262144 && index($0, "content=\"WordPress")) gen = 1
            if (n - length($0) - 1 < 65536) { gsub(/\r/, " "); text = text $0 " " }
        }
        END {
            if (hx) print "server=" server
            if (bx) {
                print "generator=" (gen ? "yes" : "no")
                text = substr(text, 1, 65536); title = ""
                while (match(text, /<[Tt][Ii][Tt][Ll][Ee][^>]*>[^<]*<\/[Tt][Ii][Tt][Ll][Ee]>/)) {
                    t = substr(text, RSTART, RLENGTH); text = substr(text, RSTART + RLENGTH)
                    sub(/^<[^>]*>/, "", t); sub(/<[^<]*$/, "", t); title = t
                }
                print "title=" substr(title, 1, 200)
            }
        }' "$@"
    rm -f "$tmpd/body" "$tmpd/head" "$tmpd/curlerr"
else
    echo "error=curl not installed"
fi

# ---- 3. processes, then the web server ------------------------------------------------------
if [ -d /run/systemd/system ]; then init=systemd; else init=sysv; fi
sec ps
# -ww: whole command lines whatever COLUMNS says (the config a master names is at the end)
ps -ww -eo pid=,ppid=,user=,etimes=,rss=,comm=,args= 2>/dev/null | grep -E 'nginx|apache2|httpd|php-fpm' |
    grep -v grep >"$tmpd/ps"
cat "$tmpd/ps"
running() { awk -v c="$1" '$6 == c { f = 1 } END { exit !f }' "$tmpd/ps"; }

if command -v nginx >/dev/null 2>&1; then
    if [ -n "$R" ]; then
        set -- -p "$R/etc/nginx/" -c "$R/etc/nginx/nginx.conf" -e "$R/var/log/nginx/error.log"
    else
        set --
    fi
    sec "cmd nginx-T"
    $T nginx -T "$@" >"$tmpd/nginxT" 2>&1
    r=$?
    cat "$tmpd/nginxT"
    rc nginx-T $r
    dumped=no
    grep -q '^# configuration file ' "$tmpd/nginxT" && dumped=yes
    if [ "$dumped" = no ]; then
        # nginx -T prints nothing of the config when it fails: read the usual files ourselves
        for f in "$R"/etc/nginx/nginx.conf "$R"/etc/nginx/conf.d/*.conf "$R"/etc/nginx/sites-enabled/*; do
            showfile "$f"
        done
        for f in "$R"/etc/nginx/nginx.conf "$R"/etc/nginx/conf.d/*.conf "$R"/etc/nginx/sites-enabled/*; do
            [ -r "$f" ] && cat "$f"
        done >"$tmpd/nginxT"
    fi
    # each file's real size: a file that prints a forged "# configuration file" line (an include in
    # a directory the web user can write) comes out shorter than it is, and the dump is not trusted.
    # (After the fallback's files, which must follow the nginx-T section to be read as nginx's.)
    if [ "$dumped" = yes ]; then
        sec nginxsizes
        set --
        while IFS= read -r f; do set -- "$@" "$f"; done <<EOF_NGX
$(sed -n 's/^# configuration file \(.*\):$/\1/p' "$tmpd/nginxT")
EOF_NGX
        [ $# -gt 0 ] && [ -n "$1" ] && stat -L -c '%s %n' -- "$@" 2>/dev/null
    fi
    # pid file, error logs, roots and unix sockets the config names, in one pass
    npid=$(awk -v d="$tmpd" "$AWKUNQ"'
        /^[ \t]*pid[ \t]/ { v = $0; sub(/^[ \t]*pid[ \t]+/, "", v); sub(/[; \t].*/, "", v); pid = unq(v) }
        /^[ \t]*error_log[ \t]/ { v = $0; sub(/^[ \t]*error_log[ \t]+/, "", v); sub(/[; \t].*/, "", v); print unq(v) >> (d "/logs") }
        /^[ \t]*root[ \t][^;]*;/ { v = $0; sub(/^[ \t]*root[ \t]+/, "", v); sub(/;.*/, "", v); print unq(v) >> (d "/roots") }
        { v = $0; while (match(v, /unix:[^;|" \t]*/)) { print substr(v, RSTART + 5, RLENGTH - 5) >> (d "/unix"); v = substr(v, RSTART + RLENGTH) } }
        END { print pid }' "$tmpd/nginxT")
    [ -n "$npid" ] || npid=$R/run/nginx.pid
    pidinfo nginx "$npid"
    [ -f "$R/var/log/nginx/error.log" ] && echo "$R/var/log/nginx/error.log" >>"$tmpd/logs"
fi

# apache2 installed beside an nginx that serves PHP itself (fastcgi_pass, no proxy_pass) and not
# running is not this site's server: reading it would cost ~0.1 s of CPU per host for nothing.
apache=no
if command -v apache2ctl >/dev/null 2>&1; then
    apache=yes
    if [ -s "$tmpd/nginxT" ] && running nginx && ! running apache2 && ! running httpd &&
        grep -q '^[[:space:]]*fastcgi_pass[[:space:]]' "$tmpd/nginxT" &&
        ! grep -q '^[[:space:]]*proxy_pass[[:space:]]' "$tmpd/nginxT"; then
        apache=no
        note "apache2 installed but not running; nginx serves PHP itself (fastcgi_pass): apache2 not read"
    fi
fi
if [ $apache = yes ] && [ ! -f "${APACHE_CONFDIR:-$R/etc/apache2}/apache2.conf" ]; then
    apache=no
    note "apache2ctl installed but there is no ${APACHE_CONFDIR:-$R/etc/apache2}/apache2.conf: Debian's layout not read"
fi
debian_apache=$apache
if [ $apache = yes ]; then
    if [ -n "$R" ] && [ -z "${APACHE_CONFDIR:-}" ]; then
        APACHE_CONFDIR=$R/etc/apache2
        export APACHE_CONFDIR
    fi
    # One apache2 start for -S, -M and configtest: stdout is the dumps, stderr the test's messages.
    $T apache2ctl -t -D DUMP_VHOSTS -D DUMP_RUN_CFG -D DUMP_MODULES >"$tmpd/apacheout" 2>"$tmpd/apacheerr"
    r=$?
    sed '/^Loaded Modules:/,$d' "$tmpd/apacheout" >"$tmpd/apacheS"
    sec "cmd apache-S"
    cat "$tmpd/apacheS"
    rc apache-S $r
    sec "cmd apache-M"
    sed -n '/^Loaded Modules:/,$p' "$tmpd/apacheout"
    rc apache-M $r
    sec "cmd apache-configtest"
    cat "$tmpd/apacheerr"
    rc apache-configtest $r
    apid=$(sed -n 's/^PidFile: "\(.*\)"$/\1/p' "$tmpd/apacheS" | tail -n 1)
    [ -n "$apid" ] || apid=$R/run/apache2/apache2.pid
    pidinfo apache "$apid"
    ad=${APACHE_CONFDIR:-$R/etc/apache2}
    for f in "$ad"/apache2.conf "$ad"/ports.conf "$ad"/sites-enabled/* "$ad"/conf-enabled/* "$ad"/mods-enabled/*.conf; do
        showfile "$f"
    done
    alog=$(sed -n 's/^export APACHE_LOG_DIR=\([^$]*\).*/\1/p' "$ad/envvars" 2>/dev/null | unq)
    [ -n "$alog" ] || alog=/var/log/apache2
    for f in "$ad"/apache2.conf "$ad"/sites-enabled/* "$ad"/conf-enabled/*; do
        [ -r "$f" ] && cat "$f"
    done >"$tmpd/apache"
    sed -n 's/^[[:space:]]*[Ee]rror[Ll]og[[:space:]]\{1,\}\(.*\)/\1/p' "$tmpd/apache" | unq |
        sed "s|\${APACHE_LOG_DIR}|$alog|" | grep '^/' >>"$tmpd/logs"
    [ -f "$alog/error.log" ] && echo "$alog/error.log" >>"$tmpd/logs"
    sed -n 's/^[[:space:]]*[Dd]ocument[Rr]oot[[:space:]]\{1,\}\(.*\)/\1/p' "$tmpd/apache" | unq >>"$tmpd/roots"
    grep -o 'unix:[^;|"[:space:]]*' "$tmpd/apache" | sed 's/^unix://' >>"$tmpd/unix"
fi

# ---- 3b. Apache laid out as RHEL's httpd (/etc/httpd, conf.d/php.conf) ---------------------
# The running master (root's httpd or apache2) and the -d/-f it was started with, else
# /etc/httpd/conf/httpd.conf when it exists; its binary is /proc/PID/exe, else httpd on the PATH.
# One start of it (only when it and every directory above it are root's alone) prints -S, -M, the
# configtest and DUMP_INCLUDES: every file it reads, each then printed as a section.
if [ "$debian_apache" = no ] && { running httpd || running apache2 || [ -f "$R/etc/httpd/conf/httpd.conf" ]; } &&
    ! { [ -s "$tmpd/nginxT" ] && running nginx && ! running httpd && ! running apache2; }; then
    awk '$3 == "root" && ($6 == "httpd" || $6 == "apache2") {
        d = ""; f = ""
        for (i = 7; i < NF; i++) { if ($i == "-d") d = $(i + 1); if ($i == "-f") f = $(i + 1) }
        print $1; print d; print f; exit }' "$tmpd/ps" >"$tmpd/httpd"
    hp=
    hd=
    hf=
    { IFS= read -r hp; IFS= read -r hd; IFS= read -r hf; } <"$tmpd/httpd"
    [ -n "$hd" ] || hd=$R/etc/httpd
    [ -n "$hf" ] || hf=conf/httpd.conf
    case $hf in /*) hconf=$hf ;; *) hconf=$hd/$hf ;; esac
    sec "apache-layout"
    echo "layout=rhel"
    echo "init=$init"
    echo "server_root=$hd"
    echo "conf=$hconf"
    exe=
    if [ -n "$hp" ]; then
        echo "master=$hp"
        exe=$(readlink "/proc/$hp/exe" 2>/dev/null)
        case $exe in *" (deleted)") exe= ;; esac
        [ $init = systemd ] && sed -n 's/^[0-9]*:[^:]*:/cgroup=/p' "/proc/$hp/cgroup" 2>/dev/null | head -n 3
    fi
    hbin=${exe:-$(command -v httpd 2>/dev/null)}
    hbin=${hbin:-/usr/sbin/httpd}
    echo "binary=$hbin"
    for u in "$R"/etc/init.d/*httpd* "$R"/etc/systemd/system/httpd*.service "$R"/usr/lib/systemd/system/httpd*.service; do
        [ -f "$u" ] || continue
        m=
        grep -qF -- "$hd" "$u" 2>/dev/null && m=conf
        grep -qF -- "$hbin" "$u" 2>/dev/null && m="$m+binary"
        echo "unit=$u|$m|"
    done
    binstat "$hbin"
    if bintrusted; then
        $T "$hbin" -d "$hd" -f "$hf" -t -D DUMP_VHOSTS -D DUMP_RUN_CFG -D DUMP_MODULES -D DUMP_INCLUDES \
            </dev/null >"$tmpd/apacheout" 2>"$tmpd/apacheerr"
        r=$?
        sed -n '/^Included configuration files:/,/^[^ ]/s/^ *([0-9*]*) \(\/.*\)$/\1/p' "$tmpd/apacheout" >"$tmpd/hfiles"
        sec "cmd apache-S"
        sed -e '/^Included configuration files:/,/^[^ ]/{/^Included configuration files:/d;/^ /d;}' \
            -e '/^Loaded Modules:/,$d' "$tmpd/apacheout"
        rc apache-S $r
        sec "cmd apache-M"
        sed -n '/^Loaded Modules:/,$p' "$tmpd/apacheout"
        rc apache-M $r
        sec "cmd apache-configtest"
        cat "$tmpd/apacheerr"
        rc apache-configtest $r
        apid=$(sed -n 's/^PidFile: "\(.*\)"$/\1/p' "$tmpd/apacheout" | tail -n 1)
        pidinfo apache "${apid:-$R/run/httpd/httpd.pid}"
        while IFS= read -r f; do showfile "$f"; done <"$tmpd/hfiles"
        sed -n 's/^Main ErrorLog: "\(.*\)"$/\1/p' "$tmpd/apacheout" >>"$tmpd/logs"
        while IFS= read -r f; do [ -r "$f" ] && cat "$f"; done <"$tmpd/hfiles" >"$tmpd/apache"
        sed -n 's/^[[:space:]]*[Ee]rror[Ll]og[[:space:]]\{1,\}\(.*\)/\1/p' "$tmpd/apache" | unq | grep '^/' >>"$tmpd/logs"
        sed -n 's/^[[:space:]]*[Dd]ocument[Rr]oot[[:space:]]\{1,\}\(.*\)/\1/p' "$tmpd/apache" | unq >>"$tmpd/roots"
        grep -o 'unix:[^;|"[:space:]]*' "$tmpd/apache" | sed 's/^unix://' >>"$tmpd/unix"
    else
        note "$hbin not run: it or a directory above it is not root's alone; /etc/httpd not read"
    fi
fi

# ---- 4. PHP-FPM -----------------------------------------------------------------------------
# "fpmconf CONF": pid, error_log (last of each) and includes of a php-fpm.conf, in one pass
fpmconf() {
    pidf=
    elog=
    incs=
    if [ -r "$1" ]; then
        awk "$AWKUNQ"'
            function val(s) { sub(/^[^=]*=/, "", s); return unq(s) }
            /^[ \t]*pid[ \t]*=/ { pid = val($0) }
            /^[ \t]*error_log[ \t]*=/ { elog = val($0) }
            /^[ \t]*include[ \t]*=/ { inc = inc " " val($0) }
            END { print pid; print elog; print inc }' "$1" >"$tmpd/fpmconf"
        { IFS= read -r pidf; IFS= read -r elog; IFS= read -r incs; } <"$tmpd/fpmconf"
    fi
}
# "fpmpid PIDFILE": the master it names, if alive and an FPM (sets $alive)
fpmpid() {
    alive=
    if [ -f "$1" ]; then
        readpid "$1"
        echo "pid=$p"
        if [ -n "$p" ] && [ -d "/proc/$p" ]; then
            echo "pid_alive=yes"
            comm=
            IFS= read -r comm <"/proc/$p/comm" 2>/dev/null
            echo "pid_comm=$comm"
            case $comm in php-fpm*) alive=$p ;; esac
        else
            echo "pid_alive=no"
        fi
    else
        echo "pidfile_exists=no"
    fi
}
# "fpmfresh PATH...": true when the master ($alive) already proved the config it started with (its
# pid file is written once the config parsed) and no file changed since (ctime: edits, renames,
# chmod alike).  php-fpm -t costs a PHP start, the largest share of this script's CPU on a healthy host.
fpmfresh() {
    # shellcheck disable=SC2086
    [ -n "$alive" ] && [ -f "$pidf" ] && [ -z "$(find -L "$@" $incs -type f -cnewer "$pidf" 2>/dev/null | head -n 1)" ]
}
# the pool files ($incs, globs) as sections, and the unix sockets they listen on
fpmfiles() {
    for inc in $incs; do
        for f in $inc; do showfile "$f"; done
    done
    set --
    for f in $incs; do [ -r "$f" ] && set -- "$@" "$f"; done
    [ $# -gt 0 ] && awk "$AWKUNQ"'/^[ \t]*listen[ \t]*=/ { v = $0; sub(/^[^=]*=/, "", v); v = unq(v); if (v ~ /^\//) print v }' \
        "$@" >>"$tmpd/unix"
}
for d in "$R"/etc/php/*/fpm; do
    [ -d "$d" ] || continue
    v=${d%/fpm}
    v=${v##*/}
    conf=$d/php-fpm.conf
    bin=$(command -v "php-fpm$v" 2>/dev/null)
    [ -n "$bin" ] || bin=/usr/sbin/php-fpm$v
    # pid, error_log (last of each) and includes of php-fpm.conf, in one pass
    fpmconf "$conf"
    [ -n "$pidf" ] || pidf=$R/run/php/php$v-fpm.pid
    [ -n "$elog" ] || elog=/var/log/php$v-fpm.log
    sec "fpm $v"
    echo "binary=$bin"
    echo "installed=$([ -x "$bin" ] && echo yes || echo no)"
    binstat "$bin"
    echo "conf=$conf"
    echo "init=$init"
    echo "pidfile=$pidf"
    fpmpid "$pidf"
    echo "error_log=$elog"
    case $elog in /*) echo "$elog" >>"$tmpd/logs" ;; esac
    for x in "$d"/conf.d/*xdebug*.ini; do [ -e "$x" ] && echo "xdebug=$x"; done
    [ -n "$incs" ] || incs="$d/pool.d/*.conf"
    if fpmfresh "$d"; then
        echo "config_test=unchanged"
    else
        sec "cmd fpm-t $v"
        if [ -x "$bin" ]; then
            $T "$bin" -t -y "$conf" 2>&1
            rc "fpm-t $v" $?
        else
            echo "fix502: $bin not installed"
            rc "fpm-t $v" 127
        fi
    fi
    showfile "$conf"
    fpmfiles
    for x in "$d"/conf.d/*xdebug*.ini; do showfile "$x"; done
done

# ---- 4b. PHP-FPM on the other layouts (RHEL/Alma/Rocky, Remi SCL, cPanel EA4, Plesk, Bitnami) ----
# From the running system first: each master the process table shows with the config it was started
# with (only root's: any user can title a process "php-fpm: master process (...)"), then the configs
# those layouts keep at fixed places (a killed master leaves no process behind).  Its binary is the
# one the kernel runs (/proc/PID/exe), else the one its init script or unit names, else the
# layout's own; its service is the systemd unit whose cgroup holds it, else the init scripts and
# units that name its config or binary (the controller chooses, remediations/facts/script.py).
awk -v r="$R" '$3 == "root" && $6 ~ /^php-fpm/ && $7 == "php-fpm:" && $8 == "master" && $9 == "process" {
    c = $0; sub(/^[^(]*\(/, "", c)
    if (c ~ /^\/.*\)$/ && index(c, r) == 1) print $1 " " substr(c, 1, length(c) - 1)
}' "$tmpd/ps" >"$tmpd/fpmx"
for f in "$R"/etc/php-fpm.conf "$R"/etc/opt/remi/php*/php-fpm.conf "$R"/opt/cpanel/ea-php*/root/etc/php-fpm.conf \
    "$R"/opt/plesk/php/*/etc/php-fpm.conf "$R"/opt/bitnami/php/etc/php-fpm.conf; do
    [ -e "$f" ] && echo "- $f"
done >>"$tmpd/fpmx"
# the layout's own binary for a config (the init system may name another)
fpmbin() {
    case $1 in
        */etc/opt/remi/*/php-fpm.conf)
            n=${1#*/etc/opt/remi/}
            echo "${1%%/etc/opt/remi/*}/opt/remi/${n%%/*}/root/usr/sbin/php-fpm"
            ;;
        */etc/php-fpm.conf)
            b=${1%/etc/php-fpm.conf}
            if [ -e "$b/usr/sbin/php-fpm" ] || [ ! -e "$b/sbin/php-fpm" ]; then echo "$b/usr/sbin/php-fpm"; else echo "$b/sbin/php-fpm"; fi
            ;;
    esac
}
layout_fpm() {
    mp=$1
    conf=$2
    sec "fpm $conf"
    echo "conf=$conf"
    echo "init=$init"
    exe=
    if [ "$mp" != - ]; then
        echo "master=$mp"
        exe=$(readlink "/proc/$mp/exe" 2>/dev/null)
        echo "exe=$exe"
        case $exe in *" (deleted)") exe= ;; esac  # upgraded under a running master
        if [ $init = systemd ]; then
            sed -n 's/^[0-9]*:[^:]*:/cgroup=/p' "/proc/$mp/cgroup" 2>/dev/null | head -n 3
        fi
    fi
    from=
    for u in "$R"/etc/init.d/*fpm* "$R"/etc/systemd/system/*fpm*.service "$R"/usr/lib/systemd/system/*fpm*.service \
        "$R"/lib/systemd/system/*fpm*.service; do
        [ -f "$u" ] || continue
        m=
        grep -qF -- "$conf" "$u" 2>/dev/null && m=conf
        [ -n "$exe" ] && grep -qF -- "$exe" "$u" 2>/dev/null && m="$m+binary"
        # a script or unit that starts FPM with another config is not this master's
        grep -o '/[[:alnum:]/._-]*php-fpm\.conf' "$u" 2>/dev/null | grep -qvxF -- "$conf" && m="$m+otherconf"
        b=$(grep -o '/[[:alnum:]/._-]*sbin/php-fpm[[:alnum:]._-]*' "$u" 2>/dev/null | head -n 1)
        echo "unit=$u|$m|$b"
        case $m in conf*) [ -z "$from" ] && from=$b ;; esac
    done
    bin=${exe:-${from:-$(fpmbin "$conf")}}
    echo "binary=$bin"
    echo "installed=$([ -x "$bin" ] && echo yes || echo no)"
    trusted=no
    binstat "$bin"
    bintrusted && trusted=yes
    fpmconf "$conf"
    echo "pidfile=$pidf"
    [ -n "$pidf" ] && fpmpid "$pidf"
    [ -z "$alive" ] && [ "$mp" != - ] && alive=$mp
    echo "error_log=$elog"
    case $elog in /*) echo "$elog" >>"$tmpd/logs" ;; esac
    if [ $trusted = yes ]; then
        # the version when neither the config's nor the binary's path says it (RHEL's /usr/sbin/php-fpm)
        case "$conf $bin" in
            *ea-php[0-9]* | */remi/php[0-9]* | */plesk/php/[0-9]* | *php-fpm[0-9]*) ;;
            *) echo "version_output=$($T "$bin" -v </dev/null 2>/dev/null | head -n 1)" ;;
        esac
    fi
    if [ -n "$pidf" ] && fpmfresh "$conf"; then
        echo "config_test=unchanged"
    elif [ $trusted = no ]; then
        echo "config_test=not-run"
    else
        sec "cmd fpm-t $conf"
        $T "$bin" -t -y "$conf" </dev/null 2>&1
        rc "fpm-t $conf" $?
    fi
    showfile "$conf"
    fpmfiles
}
exec 4<"$tmpd/fpmx"
: >"$tmpd/fpmseen"
while read -r mp conf <&4; do
    case $conf in "$R"/etc/php/*/fpm/php-fpm.conf) continue ;; esac  # read above
    grep -qxF -- "$conf" "$tmpd/fpmseen" && continue
    echo "$conf" >>"$tmpd/fpmseen"
    layout_fpm "$mp" "$conf"
done
exec 4<&-

# ---- 5. sockets -----------------------------------------------------------------------------
sec sockets
for p in "$R"/run/php/*; do [ -e "$p" ] && echo "$p"; done >>"$tmpd/unix"
sort -u "$tmpd/unix" | while IFS= read -r p; do
    [ -n "$p" ] || continue
    if [ -e "$p" ]; then stat -L -c '%n|%U|%G|%a|%F' "$p" 2>&1; else echo "missing|$p"; fi
done
if command -v ss >/dev/null 2>&1; then
    sec "cmd ss-t"
    ss -Hlnpt 2>&1
    sec "cmd ss-x"
    ss -Hlnpx 2>&1
elif command -v netstat >/dev/null 2>&1; then
    sec "cmd netstat-t"
    netstat -lntp 2>&1
    sec "cmd netstat-x"
    netstat -lnxp 2>&1
else
    note "neither ss nor netstat installed: listeners unknown"
fi

# ---- 6. logs --------------------------------------------------------------------------------
sort -u "$tmpd/logs" | while IFS= read -r f; do
    [ -n "$f" ] || continue
    if [ -f "$f" ] && [ -r "$f" ]; then
        sec "log $f"
        tail -n "$lines" "$f"
    elif [ -e "$f" ]; then
        note "cannot read log $f"
    else
        note "log $f does not exist"
    fi
done
sec "cmd dmesg"
dmesg >"$tmpd/dmesg" 2>&1
r=$?
# only what can explain a 502 (crashes, OOM kills, the web stack), not the whole boot log
grep -Ei 'segfault|general protection|traps:|oom|out of memory|killed process|php|nginx|apache|httpd' "$tmpd/dmesg" |
    tail -n "$lines"
[ $r -ne 0 ] && head -n 3 "$tmpd/dmesg"
rc dmesg $r

# ---- 7. memory ------------------------------------------------------------------------------
sec meminfo
grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>&1

# ---- 7b. when fix502 last changed this host (its journal): older evidence is history ------
sec lastchange
for j in "$R"/var/backups/fix502/*/journal.jsonl; do [ -f "$j" ] && stat -c %Y "$j"; done 2>/dev/null | sort -n | tail -n 1

# ---- 8. WordPress ---------------------------------------------------------------------------
sec wordpress
root=
for r in $(cat "$tmpd/roots") "$R"/var/www/wordpress "$R"/var/www/html "$R"/usr/share/wordpress; do
    if [ -f "$r/wp-load.php" ]; then root=${r%/}; break; fi
done
if [ -z "$root" ]; then
    echo "root="
else
    echo "root=$root"
    # the first match only: a second "$wp_version = '...'" line must not add a line of its own
    echo "version=$(sed -n "/^\$wp_version[[:space:]]*=/{s/^[^']*'\([^']*\)'.*/\1/p;q;}" "$root/wp-includes/version.php" 2>/dev/null)"
    wc=$root/wp-content
    # the web user names these: C-quoted (QUOTING_STYLE=c, LC_ALL=C), one line each whatever they hold
    LC_ALL=C QUOTING_STYLE=c stat -c 'entry=%Y|%N' -- "$wc"/plugins/* "$wc"/mu-plugins/* "$wc"/plugins.fix502-* 2>/dev/null
    echo "deferred=yes"  # active plugins and theme: wpdata mode, a second round trip when unhealthy
    if plain "$root" && plain "$(readlink -f -- "$root")"; then wpfiles; else note "WordPress root with an unprintable name: its caches and logs not read"; fi
fi

# ---- the config files we printed: owner, group, mode ------------------------------------------
sec filemeta
sort -u "$tmpd/files" | tr '\n' '\0' | xargs -0 -r stat -L -c '%n|%U|%G|%a|%F' 2>/dev/null
sec notes
[ -f "$tmpd/notes" ] && cat "$tmpd/notes"
sec end
