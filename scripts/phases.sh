# Sourced by .ci/run and scripts/test.sh: `phase NAME` ends the phase that is
# running and starts NAME; when the outermost script exits, pass or fail, it
# prints each phase with its duration, so a slow or failing run says where.
#
# Nested scripts share one record through PHASES_FILE: the first script that
# sources this file owns the record and prints it; scripts it calls add their
# phases to it and print nothing.

if [ -z "${PHASES_FILE:-}" ]; then
  PHASES_FILE=$(mktemp "${TMPDIR:-/tmp}/academichub-phases.XXXXXX")
  export PHASES_FILE
  phases_owner=1
else
  phases_owner=0
fi
phase_name=""
phase_started=0

# Ends the running phase, if any, and records its duration (and $1, a note
# such as "FAILED", after its name).
phase_end() {
  if [ -n "$phase_name" ]; then
    printf '%s%s\t%s\n' "$phase_name" "${1:+ ($1)}" $((SECONDS - phase_started)) >>"$PHASES_FILE"
    phase_name=""
  fi
}

phase() {
  phase_end
  phase_name="$1"
  phase_started=$SECONDS
  echo "==> $1" >&2
}

phases_report() {
  local status=$?
  if [ "$status" = 0 ]; then phase_end; else phase_end "FAILED, exit status $status"; fi
  if [ "$phases_owner" = 1 ]; then
    {
      echo
      echo "Time per phase:"
      awk -F'\t' '{ printf "  %-48s %4d min %02d s\n", $1, $2 / 60, $2 % 60; total += $2 }
        END { printf "  %-48s %4d min %02d s\n", "total", total / 60, total % 60 }' "$PHASES_FILE"
    } >&2
    rm -f "$PHASES_FILE"
  fi
  return "$status"
}
trap phases_report EXIT
