# fix502 evidence script: everything the diagnosis needs, read in ONE ssh command.
# POSIX sh (runs under dash); needs nothing but coreutils/procps/iproute2 on the target.
# Usage: sh evidence.sh SITE_URL [LOG_LINES]
# Output: sections, each introduced by a line "==fix502:KIND[ ARG]==".
# Read-only: it never changes a file outside its own temporary directory.
# Test hooks (never set on a real host): FIX502_ROOT prefixes every default path,
# FIX502_PROBE_ADDR overrides the address the probe connects to.

url=$1
lines=${2:-400}
case $lines in '' | *[!0-9]*) lines=400 ;; esac
R=${FIX502_ROOT:-}

T=
if command -v timeout >/dev/null 2>&1; then T="timeout 10"; fi
tmpd=$(mktemp -d 2>/dev/null) || { tmpd=/tmp/fix502-ev.$$; mkdir -m 700 "$tmpd" || exit 1; }
trap 'rm -rf "$tmpd"' EXIT
: >"$tmpd/files"
: >"$tmpd/logs"
: >"$tmpd/unix"
: >"$tmpd/roots"

sec() { printf '==fix502:%s==\n' "$*"; }
note() { printf '%s\n' "$*" >>"$tmpd/notes"; }
rc() { sec "rc $1"; echo "$2"; }
# print a file as its own section and remember it for the stat list at the end
showfile() {
    [ -f "$1" ] || return 0
    if [ -r "$1" ]; then
        sec "file $1"
        cat "$1"
        echo
        echo "$1" >>"$tmpd/files"
    else
        note "cannot read $1"
    fi
}
# "pidfile KIND PATH": the master pid a service recorded and whether it is still alive
pidinfo() {
    sec "pidfile $1"
    echo "path=$2"
    if [ -f "$2" ]; then
        p=$(tr -dc '0-9' <"$2" 2>/dev/null)
        echo "pid=$p"
        if [ -n "$p" ] && [ -d "/proc/$p" ]; then echo "alive=yes"; else echo "alive=no"; fi
    else
        echo "exists=no"
    fi
}
unq() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"; }

# ---- 1. meta -------------------------------------------------------------------------------
sec meta
echo "now=$(date +%s)"
echo "tz=$(date +%z)"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null)"
if [ -r /proc/uptime ]; then echo "uptime=$(cut -d' ' -f1 /proc/uptime)"; fi
echo "lines=$lines"

# ---- 2. probe (first, so a failure it causes is logged inside the window) -------------------
sec probe
echo "url=$url"
scheme=${url%%://*}
rest=${url#*://}
hostport=${rest%%/*}
host=${hostport%%:*}
port=${hostport#"$host"}
port=${port#:}
if [ -z "$port" ]; then
    if [ "$scheme" = https ]; then port=443; else port=80; fi
fi
# shellcheck disable=SC2086
addr=$(echo ${SSH_CONNECTION:-} | cut -d' ' -f3)
[ -n "$addr" ] || addr=127.0.0.1
[ -n "${FIX502_PROBE_ADDR:-}" ] && addr=$FIX502_PROBE_ADDR
case $addr in *:*) raddr="[$addr]" ;; *) raddr=$addr ;; esac
echo "resolve=$host:$port:$addr"
if command -v curl >/dev/null 2>&1; then
    res=$(curl -sS -k -o "$tmpd/body" -D "$tmpd/head" -w '%{http_code} %{time_total}' --max-time 20 \
        --resolve "$host:$port:$raddr" "$url" 2>"$tmpd/curlerr")
    echo "curl_rc=$?"
    echo "result=$res"
    [ -s "$tmpd/curlerr" ] && echo "error=$(head -n 1 "$tmpd/curlerr")"
    if [ -f "$tmpd/head" ]; then
        echo "server=$(tr -d '\r' <"$tmpd/head" | sed -n 's/^[Ss][Ee][Rr][Vv][Ee][Rr]:[[:space:]]*//p' | tail -n 1)"
    fi
    if [ -f "$tmpd/body" ]; then
        if head -c 262144 "$tmpd/body" | grep -q 'content="WordPress'; then echo "generator=yes"; else echo "generator=no"; fi
        echo "title=$(head -c 65536 "$tmpd/body" | tr '\r\n' '  ' | sed -n 's/.*<[Tt][Ii][Tt][Ll][Ee][^>]*>\([^<]*\)<\/[Tt][Ii][Tt][Ll][Ee]>.*/\1/p' | cut -c1-200)"
    fi
    rm -f "$tmpd/body" "$tmpd/head" "$tmpd/curlerr"
else
    echo "error=curl not installed"
fi

# ---- 3. web server --------------------------------------------------------------------------
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
    if ! grep -q '^# configuration file ' "$tmpd/nginxT"; then
        # nginx -T prints nothing of the config when it fails: read the usual files ourselves
        for f in "$R"/etc/nginx/nginx.conf "$R"/etc/nginx/conf.d/*.conf "$R"/etc/nginx/sites-enabled/*; do
            showfile "$f"
        done
        for f in "$R"/etc/nginx/nginx.conf "$R"/etc/nginx/conf.d/*.conf "$R"/etc/nginx/sites-enabled/*; do
            [ -r "$f" ] && cat "$f"
        done >"$tmpd/nginxT"
    fi
    npid=$(sed -n 's/^[[:space:]]*pid[[:space:]]\{1,\}\([^;[:space:]]*\).*/\1/p' "$tmpd/nginxT" | tail -n 1 | unq)
    [ -n "$npid" ] || npid=$R/run/nginx.pid
    pidinfo nginx "$npid"
    sed -n 's/^[[:space:]]*error_log[[:space:]]\{1,\}\([^;[:space:]]*\).*/\1/p' "$tmpd/nginxT" | unq >>"$tmpd/logs"
    [ -f "$R/var/log/nginx/error.log" ] && echo "$R/var/log/nginx/error.log" >>"$tmpd/logs"
    sed -n 's/^[[:space:]]*root[[:space:]]\{1,\}\([^;]*\);.*/\1/p' "$tmpd/nginxT" | unq >>"$tmpd/roots"
    grep -o 'unix:[^;|"[:space:]]*' "$tmpd/nginxT" | sed 's/^unix://' >>"$tmpd/unix"
fi

if command -v apache2ctl >/dev/null 2>&1; then
    if [ -n "$R" ] && [ -z "${APACHE_CONFDIR:-}" ]; then
        APACHE_CONFDIR=$R/etc/apache2
        export APACHE_CONFDIR
    fi
    for a in S M configtest; do
        sec "cmd apache-$a"
        if [ $a = configtest ]; then $T apache2ctl configtest >"$tmpd/apache$a" 2>&1; else $T apache2ctl -$a >"$tmpd/apache$a" 2>&1; fi
        r=$?
        cat "$tmpd/apache$a"
        rc "apache-$a" $r
    done
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

sec ps
ps -eo pid=,ppid=,user=,etimes=,rss=,comm=,args= 2>/dev/null | grep -E 'nginx|apache2|httpd|php-fpm' | grep -v grep

# ---- 4. PHP-FPM -----------------------------------------------------------------------------
if [ -d /run/systemd/system ]; then init=systemd; else init=sysv; fi
for d in "$R"/etc/php/*/fpm; do
    [ -d "$d" ] || continue
    v=${d%/fpm}
    v=${v##*/}
    conf=$d/php-fpm.conf
    bin=$(command -v "php-fpm$v" 2>/dev/null)
    [ -n "$bin" ] || bin=/usr/sbin/php-fpm$v
    pidf=$(sed -n 's/^[[:space:]]*pid[[:space:]]*=\(.*\)/\1/p' "$conf" 2>/dev/null | tail -n 1 | unq)
    [ -n "$pidf" ] || pidf=$R/run/php/php$v-fpm.pid
    elog=$(sed -n 's/^[[:space:]]*error_log[[:space:]]*=\(.*\)/\1/p' "$conf" 2>/dev/null | tail -n 1 | unq)
    [ -n "$elog" ] || elog=/var/log/php$v-fpm.log
    sec "fpm $v"
    echo "binary=$bin"
    echo "installed=$([ -x "$bin" ] && echo yes || echo no)"
    echo "conf=$conf"
    echo "init=$init"
    echo "pidfile=$pidf"
    if [ -f "$pidf" ]; then
        p=$(tr -dc '0-9' <"$pidf" 2>/dev/null)
        echo "pid=$p"
        if [ -n "$p" ] && [ -d "/proc/$p" ]; then
            echo "pid_alive=yes"
            echo "pid_comm=$(cat "/proc/$p/comm" 2>/dev/null)"
        else
            echo "pid_alive=no"
        fi
    else
        echo "pidfile_exists=no"
    fi
    echo "error_log=$elog"
    case $elog in /*) echo "$elog" >>"$tmpd/logs" ;; esac
    for x in "$d"/conf.d/*xdebug*.ini; do [ -e "$x" ] && echo "xdebug=$x"; done
    sec "cmd fpm-t $v"
    if [ -x "$bin" ]; then
        $T "$bin" -t -y "$conf" 2>&1
        rc "fpm-t $v" $?
    else
        echo "fix502: $bin not installed"
        rc "fpm-t $v" 127
    fi
    showfile "$conf"
    incs=$(sed -n 's/^[[:space:]]*include[[:space:]]*=\(.*\)/\1/p' "$conf" 2>/dev/null | unq)
    [ -n "$incs" ] || incs="$d/pool.d/*.conf"
    for inc in $incs; do
        for f in $inc; do showfile "$f"; done
    done
    for x in "$d"/conf.d/*xdebug*.ini; do showfile "$x"; done
    for f in $incs; do [ -r "$f" ] && cat "$f"; done >"$tmpd/pools" 2>/dev/null
    sed -n 's/^[[:space:]]*listen[[:space:]]*=\(.*\)/\1/p' "$tmpd/pools" | unq | grep '^/' >>"$tmpd/unix"
done

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
    echo "version=$(sed -n "s/^\$wp_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$root/wp-includes/version.php" 2>/dev/null)"
    wc=$root/wp-content
    for e in "$wc"/plugins/*; do [ -e "$e" ] && echo "plugin=$(stat -c '%Y' "$e")|${e##*/}"; done
    for e in "$wc"/mu-plugins/*; do [ -e "$e" ] && echo "mu=${e##*/}"; done
    for e in "$wc"/plugins.fix502-*; do [ -e "$e" ] && echo "parked=${e##*/}"; done
    if command -v php >/dev/null 2>&1; then
        # SHORTINIT loads wp-config.php and $wpdb but no plugin or theme: safe even when a plugin is the fault.
        code='error_reporting(0); $GLOBALS["fix502_ok"] = false; ob_start();
register_shutdown_function(function () {
    $out = ob_get_clean();
    if ($GLOBALS["fix502_ok"]) { echo $out; return; }
    $out = preg_replace("#<(style|script|head)\b.*?</\\1>#is", " ", (string) $out);
    $t = trim(preg_replace("/\s+/", " ", strip_tags((string) $out)));
    $e = error_get_last();
    if ($t === "" && $e) { $t = $e["message"]; }
    echo "error=", substr($t === "" ? "no output" : $t, 0, 300), "\n";
});
$_SERVER["HTTP_HOST"] = getenv("FIX502_HOST") ?: "localhost";
$_SERVER["REQUEST_URI"] = "/"; $_SERVER["SERVER_NAME"] = $_SERVER["HTTP_HOST"];
define("SHORTINIT", true);
require "./wp-load.php";
$d = array("active_plugins" => get_option("active_plugins"), "template" => get_option("template"),
    "stylesheet" => get_option("stylesheet"));
echo "data=", json_encode($d), "\n";
$GLOBALS["fix502_ok"] = true;'
        (cd "$root" && FIX502_HOST=$host $T php -d display_errors=0 -d log_errors=0 -r "$code" 2>/dev/null |
            grep -E '^(data|error)=' | head -n 1 | cut -c1-8000)
    else
        echo "error=php-cli not installed"
    fi
fi

# ---- the config files we printed: owner, group, mode ------------------------------------------
sec filemeta
sort -u "$tmpd/files" | while IFS= read -r f; do stat -L -c '%n|%U|%G|%a|%F' "$f" 2>/dev/null; done
sec notes
[ -f "$tmpd/notes" ] && cat "$tmpd/notes"
sec end
