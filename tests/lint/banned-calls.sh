#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when product code calls a libc function the house style bans: the unbounded string
# writers (sprintf, vsprintf, strcpy, strcat), strtok (hidden state), atoi/atol (no error
# reporting) and gets and sscanf (unsafe on untrusted input). Tests may use them.
# Usage: banned-calls.sh SOURCE_ROOT
set -euo pipefail

root=${1:?usage: banned-calls.sh SOURCE_ROOT}
pattern='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets|sscanf)[[:space:]]*\('
dirs=()
for d in common gateway coordinator bench; do
    [ -d "$root/$d" ] && dirs+=("$root/$d")
done

if hits=$(grep -rnE "$pattern" --include='*.c' --include='*.h' "${dirs[@]}"); then
    echo "banned libc calls (use snprintf, sl_buf_*, strtol with end checks):"
    echo "$hits"
    exit 1
fi
echo "no banned libc calls in ${dirs[*]}"
