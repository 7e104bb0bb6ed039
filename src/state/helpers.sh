
# has LIST ADDR KIND: whether `terraform state list` output LIST holds ADDR.
# KIND i: the exact line; r: a resource (ADDR or ADDR[...]); m: a module (lines under ADDR.).
has() {
  case "$3" in
    i) grep -Fxq -- "$2" <<<"$1" ;;
    r) grep -Fxq -- "$2" <<<"$1" || starts "$2[" "$1" ;;
    m) starts "$2." "$1" ;;
  esac
}
starts() { P="$1" awk 'index($0, ENVIRON["P"]) == 1 { f = 1 } END { exit !f }' <<<"$2"; }

# state_id FILE: lineage and serial of a pulled state ("" for no state).
state_id() {
  sed -n -e 's/^  "lineage": "\(.*\)",\{0,1\}$/lineage \1/p' \
    -e 's/^  "serial": \([0-9]*\),\{0,1\}$/serial \1/p' "$1" | sort | tr '\n' ' '
}
serial_of() { sed -n 's/^  "serial": \([0-9]*\),\{0,1\}$/\1/p' "$1"; }
lineage_of() { sed -n 's/^  "lineage": "\(.*\)",\{0,1\}$/\1/p' "$1"; }

# need_root ROOT: stop (nothing changed) unless the directory of ROOT is under MONOREPOS.
need_root() {
  if [ ! -d "$MONOREPOS/$1" ]; then
    echo "$SCRIPT: the root directory $MONOREPOS/$1 (a cross-state move reads its state) is missing; nothing was changed. Check the monorepos out under MONOREPOS, or set MONOREPOS=DIR (tfmono apply --monorepos DIR records it)" >&2
    exit 2
  fi
}

# unchanged DIR PULLED: whether the state of DIR still has PULLED's lineage and serial.
unchanged() {
  (cd "$1" && "$TF" state pull) >"$TMP/recheck.tfstate"
  [ "$(state_id "$TMP/recheck.tfstate")" = "$(state_id "$2")" ]
}

# mv_local FROM TO KIND_FROM KIND_TO NAME [FROM_ARG TO_ARG]: one move inside this root's
# state. FROM/TO as `state list` prints them; FROM_ARG/TO_ARG as `state mv` reads them
# (they differ only for keys with `${`, `%{` or control characters).
mv_local() {
  local list
  list="$("$TF" state list)"
  if has "$list" "$1" "$3"; then
    if has "$list" "$2" "$4"; then
      echo "error: $5: both $1 and $2 are in the state; move or remove $2 first" >&2
      exit 1
    fi
    if [ "$DRY_RUN" = 1 ]; then
      "$TF" state mv -dry-run "$LOCK" "${6:-$1}" "${7:-$2}"
    else
      "$TF" state mv "$LOCK" "${6:-$1}" "${7:-$2}"
    fi
  elif has "$list" "$2" "$4"; then
    echo "$5: already done ($2 is in the state, $1 is not)"
  elif [ "$STRICT" = 1 ]; then
    echo "error: $5: neither $1 nor $2 is in the state of $ROOT_DIR" >&2
    exit 1
  else
    echo "$5: nothing to undo (neither $1 nor $2 is in the state)"
  fi
}

# mv_cross SRC_DIR DST_DIR FROM TO KIND_FROM KIND_TO NAME [FROM_ARG TO_ARG]: move FROM out
# of the state of SRC_DIR into TO in the state of DST_DIR; pushes the destination first.
mv_cross() {
  local src_dir="$1" dst_dir="$2" from="$3" to="$4" name="$7" sl dl s d
  local from_arg="${8:-$3}" to_arg="${9:-$4}"
  sl="$(cd "$src_dir" && "$TF" state list)"
  dl="$(cd "$dst_dir" && "$TF" state list)"
  if ! has "$sl" "$from" "$5"; then
    if has "$dl" "$to" "$6"; then
      echo "$name: already done ($to is in $dst_dir, $from is not in $src_dir)"
      return 0
    fi
    if [ "$STRICT" != 1 ]; then
      echo "$name: nothing to undo ($from is not in $src_dir, $to is not in $dst_dir)"
      return 0
    fi
    echo "error: $name: $from is not in the state of $src_dir and $to is not in $dst_dir" >&2
    exit 1
  fi
  if has "$dl" "$to" "$6"; then
    echo "error: $name: $to is already in the state of $dst_dir and $from still in $src_dir;" >&2
    echo "  if a previous run pushed the destination but not the source, remove the leftover with:" >&2
    echo "  (cd '$src_dir' && $TF state rm '$from_arg')" >&2
    exit 1
  fi
  s="$TMP/$name-source.tfstate"
  d="$TMP/$name-destination.tfstate"
  (cd "$src_dir" && "$TF" state pull) >"$s"
  (cd "$dst_dir" && "$TF" state pull) >"$d"
  cp "$s" "$s.pulled"
  cp "$d" "$d.pulled"
  if [ "$DRY_RUN" = 1 ]; then
    "$TF" state mv -dry-run -state="$s" -state-out="$d" "$from_arg" "$to_arg"
    return 0
  fi
  "$TF" state mv -state="$s" -state-out="$d" "$from_arg" "$to_arg"
  if ! unchanged "$dst_dir" "$d.pulled"; then
    echo "error: $name: the state of $dst_dir changed since it was pulled (lineage/serial); nothing was pushed. Re-run this script." >&2
    exit 1
  fi
  if ! (cd "$dst_dir" && "$TF" state push "$d"); then
    echo "error: $name: terraform refused to push the state of $dst_dir; nothing was changed. Re-run this script." >&2
    exit 1
  fi
  if ! unchanged "$src_dir" "$s.pulled"; then
    echo "error: $name: the state of $src_dir changed since it was pulled; $to was already pushed to $dst_dir," >&2
    echo "  so $from is now in both states. Check, then remove it from the source: (cd '$src_dir' && $TF state rm '$from_arg')" >&2
    exit 1
  fi
  if ! (cd "$src_dir" && "$TF" state push "$s"); then
    echo "error: $name: terraform refused to push the state of $src_dir; $to was already pushed to $dst_dir," >&2
    echo "  so $from is now in both states. Check, then remove it from the source: (cd '$src_dir' && $TF state rm '$from_arg')" >&2
    exit 1
  fi
}

# Preflight: before anything changes, every move is checked against one `state list` per
# state involved, simulating the moves before it. A move passes when it is already done
# (TO there, FROM not) or can run (FROM there, TO free); otherwise every offending move is
# printed and the script stops with nothing changed. PREFLIGHT_ONLY=1 stops after it;
# PREFLIGHT_DIR (set by migrate-all.sh / rollback-all.sh) carries the simulated lists from
# one root's preflight to the next.
pf_begin() {
  PF="$TMP/preflight"
  rm -rf "$PF"
  mkdir -p "$PF"
  PF_BAD=0
  PF_N=0
}

# pf_list FILE DIR: the state list of DIR into $PF/FILE, once (from PREFLIGHT_DIR if an
# earlier root's preflight simulated it).
pf_list() {
  if [ -e "$PF/$1" ]; then
    return 0
  fi
  if [ -n "${PREFLIGHT_DIR:-}" ] && [ -e "$PREFLIGHT_DIR/$1" ]; then
    cp "$PREFLIGHT_DIR/$1" "$PF/$1"
  else
    (cd "$2" && "$TF" state list) >"$PF/$1"
  fi
}

# pf_split FROM TO KIND_FROM KIND_TO IN MOVED REST: the lines of IN that FROM names, renamed
# to TO, go to MOVED; the others to REST.
pf_split() {
  : >"$6"
  : >"$7"
  F="$1" T="$2" KF="$3" KT="$4" MOVED="$6" REST="$7" awk '
    BEGIN { f = ENVIRON["F"]; t = ENVIRON["T"]; kf = ENVIRON["KF"]; kt = ENVIRON["KT"]; n = length(f) }
    { hit = 0; out = "" }
    kf != "m" && $0 == f { hit = 1; out = t }
    !hit && kf == "r" && index($0, f "[") == 1 { hit = 1; out = (kt == "r") ? t substr($0, n + 1) : t }
    !hit && kf == "m" && index($0, f ".") == 1 { hit = 1; out = t substr($0, n + 1) }
    hit { print out > ENVIRON["MOVED"]; next }
    { print > ENVIRON["REST"] }' "$5"
}

# pf_move SRC_FILE SRC_DIR SRC_LABEL DST_FILE DST_DIR DST_LABEL FROM TO KIND_FROM KIND_TO NAME
pf_move() {
  local sf="$PF/$1" df="$PF/$4" from="$7" to="$8" where sl dl
  pf_list "$1" "$2"
  pf_list "$4" "$5"
  sl="$(cat "$sf")"
  dl="$(cat "$df")"
  PF_N=$((PF_N + 1))
  if [ "$1" = "$4" ]; then
    where="'$from' is not in the state of $3 and '$to' is not there either"
  else
    where="'$from' is not in the state of $3 and '$to' is not in the state of $6 either"
  fi
  if has "$sl" "$from" "$9"; then
    if has "$dl" "$to" "${10}"; then
      PF_BAD=$((PF_BAD + 1))
      echo "$SCRIPT: cannot move '$from' -> '$to': '$from' is in the state of $3 and '$to' is already in the state of $6; nothing was changed. Move or remove '$to' first, then re-run (${11})" >&2
      return 0
    fi
    pf_split "$from" "$to" "$9" "${10}" "$sf" "$PF/moved" "$PF/rest"
    if [ "$1" = "$4" ]; then
      cat "$PF/rest" "$PF/moved" >"$sf"
    else
      cp "$PF/rest" "$sf"
      cat "$PF/moved" >>"$df"
    fi
  elif has "$dl" "$to" "${10}"; then
    : # already done
  elif [ "$STRICT" = 1 ]; then
    PF_BAD=$((PF_BAD + 1))
    echo "$SCRIPT: cannot move '$from' -> '$to': $where; nothing was changed. Fix the mapping's state block or the state, then re-run (${11})" >&2
  fi
}

# pf_end: stops (exit 1) if a move cannot run; with PREFLIGHT_ONLY=1 stops (exit 0) anyway.
pf_end() {
  if [ -n "${PREFLIGHT_DIR:-}" ]; then
    find "$PF" -maxdepth 1 -name '*.list' -exec cp {} "$PREFLIGHT_DIR"/ \;
  fi
  rm -rf "$PF"
  if [ "$PF_BAD" != 0 ]; then
    echo "$SCRIPT: preflight of $ROOT_LABEL: $PF_BAD of $PF_N moves cannot run; nothing was changed" >&2
    exit 1
  fi
  echo "preflight of $ROOT_LABEL: $PF_N moves checked, none blocked"
  if [ "${PREFLIGHT_ONLY:-0}" = 1 ]; then
    STAGE='done'
    exit 0
  fi
  STAGE=run
}

# copy_key FROM_KEY TO_KEY NAME: copy this root's state from backend key FROM_KEY to TO_KEY
# (re-initialising the backend with -backend-config); leaves the root on TO_KEY.
copy_key() {
  local a="$TMP/$3-from.tfstate" b="$TMP/$3-to.tfstate"
  if [ "$DRY_RUN" = 1 ]; then
    echo "$3: would copy the state from $KEY_ATTR=$1 to $KEY_ATTR=$2"
    return 0
  fi
  "$TF" init -input=false -reconfigure -backend-config="$KEY_ATTR=$1" >/dev/null
  "$TF" state pull >"$a"
  "$TF" init -input=false -reconfigure -backend-config="$KEY_ATTR=$2" >/dev/null
  "$TF" state pull >"$b"
  if [ ! -s "$a" ]; then
    echo "$3: no state at $KEY_ATTR=$1; nothing to copy"
  elif [ ! -s "$b" ]; then
    "$TF" state push "$a"
    echo "$3: copied the state from $KEY_ATTR=$1 to $KEY_ATTR=$2"
  elif [ "$(lineage_of "$a")" = "$(lineage_of "$b")" ]; then
    if [ "$(serial_of "$b")" -ge "$(serial_of "$a")" ]; then
      echo "$3: already done ($KEY_ATTR=$2 holds the same state, serial $(serial_of "$b"))"
    else
      "$TF" state push "$a"
      echo "$3: copied the newer state from $KEY_ATTR=$1 to $KEY_ATTR=$2"
    fi
  else
    echo "error: $3: $KEY_ATTR=$2 already holds a different state (other lineage); not overwriting it" >&2
    exit 1
  fi
}
