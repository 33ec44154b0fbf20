#!/usr/bin/env bash
# Brings values back from a restored region into the live cluster, as new writes
# (README: "Backups and point-in-time restore"). Run the restored data directory as
# its own one-region cluster, then:
#
#   scripts/restore-keys.sh --from 7101 --to 7001 --match 'balance:*' [--dry-run]
#
# For each key of the restored node that matches, by the live key's policy:
#   lww                         SET the restored value
#   counter, bounded_counter    INCRBY the difference, so concurrent changes made since are kept
#                               (a bounded counter refuses one that would break its floor)
#   set                         SADD the members the live set lacks (members added since stay)
# Keys absent from the restored node are left alone. Values and set members are copied
# byte for byte (redis-cli's quoted form); key names must not contain newlines.
# --from/--to take PORT or HOST:PORT; REDISCLI_AUTH passes a password to both.
# Exit status: 0 when every key was written, 1 when some write was refused, 2 for usage.
set -euo pipefail

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

from='' to='' match='*' dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --from) from=${2:-}; shift 2 ;;
        --to) to=${2:-}; shift 2 ;;
        --match) match=${2:-}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage ;;
        *) echo "restore-keys: unknown argument $1" >&2; usage ;;
    esac
done
[ -n "$from" ] && [ -n "$to" ] || usage
command -v redis-cli >/dev/null || { echo "restore-keys: redis-cli is not installed (apt-get install redis-tools)" >&2; exit 2; }

endpoint() { # PORT or HOST:PORT -> "-h HOST -p PORT"
    case $1 in
        *:*) echo "-h ${1%:*} -p ${1##*:}" ;;
        *) echo "-h 127.0.0.1 -p $1" ;;
    esac
}
read -r -a from_args <<<"$(endpoint "$from")"
read -r -a to_args <<<"$(endpoint "$to")"
raw() { local side=$1; shift; if [ "$side" = from ]; then redis-cli "${from_args[@]}" --raw "$@"; else redis-cli "${to_args[@]}" --raw "$@"; fi; }
# redis-cli's quoted form ("a\nb", "\xff"): one line per value, read back exactly by redis-cli.
quoted() { local side=$1; shift; if [ "$side" = from ]; then redis-cli "${from_args[@]}" --no-raw "$@"; else redis-cli "${to_args[@]}" --no-raw "$@"; fi; }
quote_key() { local k=${1//\\/\\\\}; printf '"%s"' "${k//\"/\\\"}"; }

# Runs one command line (redis-cli syntax) at the live node; prints the answer.
write() {
    if [ "$dry_run" = 1 ]; then
        echo "would send: $1" >&2
        return 0
    fi
    printf '%s\n' "$1" | redis-cli "${to_args[@]}" --no-raw
}

written=0 unchanged=0 refused=0
note() { # key, answer
    case $2 in
        *ERR* | *error* | *insufficient*) refused=$((refused + 1)); echo "restore-keys: $1: $2" >&2 ;;
        *) written=$((written + 1)) ;;
    esac
}

while IFS= read -r key; do
    [ -n "$key" ] || continue
    type=$(raw to MERIDIAN POLICY "$key" | awk 'previous == "type" { print; exit } { previous = $0 }')
    qkey=$(quote_key "$key")
    case $type in
        lww)
            value=$(quoted from GET "$key")
            [ "$value" != "(nil)" ] || continue
            if [ "$value" = "$(quoted to GET "$key")" ]; then unchanged=$((unchanged + 1)); continue; fi
            note "$key" "$(write "SET $qkey $value")"
            ;;
        counter | bounded_counter)
            old=$(raw from GET "$key")
            [ -n "$old" ] || continue
            now=$(raw to GET "$key")
            delta=$((old - ${now:-0}))
            if [ "$delta" -eq 0 ]; then unchanged=$((unchanged + 1)); continue; fi
            note "$key" "$(write "INCRBY $qkey $delta")"
            ;;
        set)
            missing=$(comm -23 <(quoted from SMEMBERS "$key" | sed -E 's/^[0-9]+\) //' | sort) \
                <(quoted to SMEMBERS "$key" | sed -E 's/^[0-9]+\) //' | sort) | grep -v '^(empty array)$' || true)
            if [ -z "$missing" ]; then unchanged=$((unchanged + 1)); continue; fi
            note "$key" "$(write "SADD $qkey $(tr '\n' ' ' <<<"$missing")")"
            ;;
        *)
            echo "restore-keys: $key: no policy type from the live node (${type:-no answer}); skipped" >&2
            refused=$((refused + 1))
            ;;
    esac
done < <(raw from --scan --pattern "$match")

echo "restore-keys: $written keys written, $unchanged already equal, $refused refused or skipped$([ "$dry_run" = 1 ] && echo ' (dry run)')"
[ "$refused" -eq 0 ]
