#!/usr/bin/env bash
# Fetches the real Portuguese–English corpora of docs/benchmarks.md from their public sources,
# prepares them (scripts/prepare-data.py) and checks every prepared file against the SHA-256 sums
# in scripts/corpora/SHA256SUMS: the files the documented results were measured on.
#
#   bash scripts/get-data.sh [--data DIR] [--force] [--mirror URL] [CORPUS...]
#   bash scripts/get-data.sh --check [--data DIR] [CORPUS...]
#
#   CORPUS     tatoeba-pt-en, news-pt-en, libreoffice-help-pt-en (default: all three)
#   --data     where the corpora go, one folder each (default: data/ in the repository, which
#              git ignores); the scripts that train or benchmark on them take the same --data
#   --check    verify corpora already in DIR against the sums; fetches nothing
#   --force    replace a corpus folder that is there but does not match the sums
#   --mirror   fetch every source file as URL/NAME instead, with the NAMEs listed below; URL
#              may be a folder of files downloaded by hand; no fallbacks
#
# Needs bash, curl, python3 (standard library only), sha256sum or shasum; about 10 MB of
# downloads. A corpus that is already there and verifies is left alone. Each corpus is prepared
# in a temporary folder inside DIR and moved into place only when every file matches its sum;
# one that does not is kept as DIR/CORPUS.unverified for inspection, and the script fails.
#
# What is verified where:
#   - libreoffice-help-pt-en: the two Debian packages against their SHA-256 sums (from Debian's
#     signed package index), and the prepared file against its sum. The preparation reproduces
#     the reference file byte for byte (checked offline with the packages from Debian's mirror).
#   - tatoeba-pt-en, news-pt-en: the source files are pinned by git commit rather than by checksum;
#     the prepared files are verified against their sums. Tatoeba's split and order cannot be
#     re-derived from the releases, so scripts/corpora/tatoeba-pt-en/*.keys record them (see
#     prepare-data.py).
#
# Sources (NAME <- URL, fallback after "|"):
#   tatoeba-test-v2020-07-28.{por,eng}, -v2021-03-30.{por,eng}, -v2021-08-07.{por,eng}
#       <- github.com/Helsinki-NLP/OPUS-MT-testsets @ a35942bf, testsets/{por-eng,eng-por}/
#   flores200-devtest.{por_Latn,eng_Latn} <- the same repository @ c04247a7,
#       datasets/facebook/flores/flores200_dataset/devtest/
#       | dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz
#   ntrex128.{por,eng} <- github.com/MicrosoftTranslator/NTREX @ c9f006f2, NTREX-128/
#   libreoffice-help-{en-us,pt-br}.deb <- deb.debian.org, 7.4.7-1+deb12u14 | snapshot.debian.org
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SUMS=$REPO/scripts/corpora/SHA256SUMS
KEYS=$REPO/scripts/corpora/tatoeba-pt-en
PREPARE=$REPO/scripts/prepare-data.py
ALL_CORPORA=(tatoeba-pt-en news-pt-en libreoffice-help-pt-en)

OPUS=https://raw.githubusercontent.com/Helsinki-NLP/OPUS-MT-testsets
OPUS_TATOEBA=$OPUS/a35942bf0fbf19e0c185030e358ea5368a5a2d6f/testsets
OPUS_FLORES=$OPUS/c04247a761e3814edbe616018f324d02f92ed68c/datasets/facebook/flores/flores200_dataset/devtest
FLORES_ARCHIVE=https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz
NTREX=https://raw.githubusercontent.com/MicrosoftTranslator/NTREX/c9f006f2c132c932b83ccd7aaa6a35930dd9c370/NTREX-128
DEBIAN_POOL=https://deb.debian.org/debian/pool/main/libr/libreoffice
SNAPSHOT=https://snapshot.debian.org/file
LO_VERSION=7.4.7-1+deb12u14
# SHA-256 (to verify) and SHA-1 (snapshot.debian.org's file address) of the two packages.
LO_EN_SHA256=8faa840285734d6cfe1ed25537b48f07e74bd6412e3917bf8e5f8a653f7b3712
LO_EN_SHA1=d4ccd840972b4de88129de9268cfdde5fa039296
LO_PT_SHA256=600d4294e52a6534be923521aff7b1b9eb7e6ddb7e30b2598ad04b2fe9cf8278
LO_PT_SHA1=b496ff0b329c71807c3597ef8e65922a65289212

say() { echo "get-data: $*" >&2; }
die() { echo "get-data: $*" >&2; exit 1; }
usage_error() { echo "get-data: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

DATA=$REPO/data
CHECK_ONLY=0 FORCE=0 MIRROR=""
corpora=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data|--mirror)
      [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"
      if [ "$1" = --data ]; then DATA=$2; else MIRROR=${2%/}; fi
      shift 2 ;;
    --check) CHECK_ONLY=1; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    tatoeba-pt-en|news-pt-en|libreoffice-help-pt-en)
      [[ " ${corpora[*]-} " == *" $1 "* ]] || corpora+=("$1"); shift ;;
    *) usage_error "unknown argument '$1' (corpora: ${ALL_CORPORA[*]}; see --help)" ;;
  esac
done
[ ${#corpora[@]} -gt 0 ] || corpora=("${ALL_CORPORA[@]}")
# A mirror given as a folder is read through file:// URLs.
if [ -n "$MIRROR" ] && [[ $MIRROR != *://* ]]; then
  [ -d "$MIRROR" ] || usage_error "--mirror: $MIRROR is neither a URL nor a folder"
  MIRROR=file://$(cd "$MIRROR" && pwd)
fi

# Tools, checked before any work starts.
if command -v sha256sum >/dev/null; then SHA256=(sha256sum)
elif command -v shasum >/dev/null; then SHA256=(shasum -a 256)
else die "needs sha256sum (coreutils) or shasum"; fi
[ -f "$SUMS" ] || die "$SUMS is missing: run this script from a complete checkout"
if [ $CHECK_ONLY = 0 ]; then
  command -v curl >/dev/null || die "needs curl (Debian: apt-get install curl)"
  command -v python3 >/dev/null || die "needs python3"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 6))' || die "needs python3 3.6 or newer"
fi

sha256_of() { "${SHA256[@]}" "$1" | cut -d' ' -f1; }

# verify CORPUS FOLDER: every file SHA256SUMS lists for CORPUS is in FOLDER with its sum.
# Prints one line per file that is missing or differs; returns 1 if any.
verify() {
  local corpus=$1 folder=$2 ok=0 sum path got
  while read -r sum path; do
    [[ $path == "$corpus"/* ]] || continue
    if [ ! -f "$folder/${path#"$corpus"/}" ]; then
      echo "  $path: missing"; ok=1
    else
      got=$(sha256_of "$folder/${path#"$corpus"/}")
      if [ "$got" != "$sum" ]; then echo "  $path: SHA-256 $got, expected $sum"; ok=1; fi
    fi
  done < <(grep -v '^#' "$SUMS")
  return $ok
}

if [ $CHECK_ONLY = 1 ]; then
  status=0
  for c in "${corpora[@]}"; do
    if [ ! -d "$DATA/$c" ]; then
      say "$c: not in $DATA (fetch it with: bash scripts/get-data.sh --data $DATA $c)"; status=1
    elif report=$(verify "$c" "$DATA/$c"); then
      say "$c: verified ($DATA/$c)"
    else
      say "$c: does not match scripts/corpora/SHA256SUMS:"; echo "$report" >&2; status=1
    fi
  done
  exit $status
fi

mkdir -p "$DATA" || die "cannot create $DATA"
DATA=$(cd "$DATA" && pwd)
DOWNLOADS=$(mktemp -d "${TMPDIR:-/tmp}/attnscope-get-data.XXXXXX")
STAGE=$(mktemp -d "$DATA/.get-data.XXXXXX")
trap 'rm -rf "$DOWNLOADS" "$STAGE"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fetch NAME URL [FALLBACK_URL...]: downloads to $DOWNLOADS/NAME (atomically: NAME.part, then a
# rename), trying each URL in turn, or $MIRROR/NAME alone when --mirror is given.
fetch() {
  local name=$1 url
  shift
  [ -z "$MIRROR" ] || set -- "$MIRROR/$name"
  for url in "$@"; do
    say "  $name <- $url"
    if curl --fail --location --silent --show-error --retry 3 --retry-delay 2 \
         --retry-connrefused --connect-timeout 30 --max-time 1800 \
         --output "$DOWNLOADS/$name.part" "$url"; then
      mv "$DOWNLOADS/$name.part" "$DOWNLOADS/$name"
      return 0
    fi
    rm -f "$DOWNLOADS/$name.part"
  done
  return 1
}

# fetch_git_file NAME URL: as fetch, but a file that turns out to be a git symbolic link (GitHub
# serves the link's target path as the file's content) is fetched again from where it points.
fetch_git_file() {
  local name=$1 url=$2 target base
  fetch "$name" "$url" || return 1
  [ -z "$MIRROR" ] || return 0
  if [ "$(wc -c < "$DOWNLOADS/$name")" -lt 256 ] && [ "$(wc -l < "$DOWNLOADS/$name")" -eq 0 ]; then
    target=$(cat "$DOWNLOADS/$name")
    if [[ $target =~ ^[A-Za-z0-9._/-]+$ ]]; then
      base=${url%/*}
      while [[ $target == ../* ]]; do base=${base%/*}; target=${target#../}; done
      say "  $name is a link to $target"
      fetch "$name" "$base/$target" || return 1
    fi
  fi
}

# check_sha256 FILE EXPECTED
check_sha256() {
  local got
  got=$(sha256_of "$1")
  [ "$got" = "$2" ] || { say "$(basename "$1"): SHA-256 $got, expected $2"; return 1; }
}

get_tatoeba() {  # OUT
  local files=() release dir lang
  for release in v2020-07-28 v2021-03-30 v2021-08-07; do
    dir=eng-por; [ $release = v2020-07-28 ] && dir=por-eng
    for lang in por eng; do
      fetch_git_file "tatoeba-test-$release.$lang" \
        "$OPUS_TATOEBA/$dir/tatoeba-test-$release.$lang" || return 1
      files+=("$DOWNLOADS/tatoeba-test-$release.$lang")
    done
  done
  python3 "$PREPARE" select --keys "$KEYS" --out "$1" "${files[@]}" >&2
}

get_news() {  # OUT
  local lang
  for lang in por_Latn eng_Latn; do
    if ! fetch "flores200-devtest.$lang" "$OPUS_FLORES/$lang.devtest"; then
      [ -z "$MIRROR" ] || return 1
      say "  trying the FLORES-200 archive instead"
      fetch flores200_dataset.tar.gz "$FLORES_ARCHIVE" || return 1
      tar -xzf "$DOWNLOADS/flores200_dataset.tar.gz" -C "$DOWNLOADS" \
          flores200_dataset/devtest/por_Latn.devtest flores200_dataset/devtest/eng_Latn.devtest &&
        mv "$DOWNLOADS/flores200_dataset/devtest/por_Latn.devtest" \
          "$DOWNLOADS/flores200-devtest.por_Latn" &&
        mv "$DOWNLOADS/flores200_dataset/devtest/eng_Latn.devtest" \
          "$DOWNLOADS/flores200-devtest.eng_Latn" ||
        { say "flores200_dataset.tar.gz: cannot extract the Portuguese and English devtest files"
          return 1; }
      break
    fi
  done
  fetch ntrex128.por "$NTREX/newstest2019-ref.por.txt" || return 1
  fetch ntrex128.eng "$NTREX/newstest2019-src.eng.txt" || return 1
  python3 "$PREPARE" paste --out "$1/flores200-devtest.tsv" \
    "$DOWNLOADS/flores200-devtest.por_Latn" "$DOWNLOADS/flores200-devtest.eng_Latn" >&2 &&
  python3 "$PREPARE" paste --out "$1/ntrex128.tsv" \
    "$DOWNLOADS/ntrex128.por" "$DOWNLOADS/ntrex128.eng" >&2
}

get_libreoffice() {  # OUT
  fetch libreoffice-help-en-us.deb "$DEBIAN_POOL/libreoffice-help-en-us_${LO_VERSION}_all.deb" \
    "$SNAPSHOT/$LO_EN_SHA1" || return 1
  check_sha256 "$DOWNLOADS/libreoffice-help-en-us.deb" $LO_EN_SHA256 || return 1
  fetch libreoffice-help-pt-br.deb "$DEBIAN_POOL/libreoffice-help-pt-br_${LO_VERSION}_all.deb" \
    "$SNAPSHOT/$LO_PT_SHA1" || return 1
  check_sha256 "$DOWNLOADS/libreoffice-help-pt-br.deb" $LO_PT_SHA256 || return 1
  python3 "$PREPARE" libreoffice --out "$1/train.tsv" \
    "$DOWNLOADS/libreoffice-help-en-us.deb" "$DOWNLOADS/libreoffice-help-pt-br.deb" >&2
}

failed=()
for c in "${corpora[@]}"; do
  target=$DATA/$c
  if [ -e "$target" ]; then
    if report=$(verify "$c" "$target"); then
      say "$c: already there and verified ($target)"
      continue
    elif [ $FORCE = 0 ]; then
      say "$c: $target is there but does not match scripts/corpora/SHA256SUMS:"
      echo "$report" >&2
      say "$c: left as it is; rerun with --force to replace it"
      failed+=("$c")
      continue
    fi
  fi
  say "$c: fetching"
  out=$STAGE/$c
  mkdir -p "$out"
  case $c in
    tatoeba-pt-en) get=get_tatoeba ;;
    news-pt-en) get=get_news ;;
    libreoffice-help-pt-en) get=get_libreoffice ;;
  esac
  if ! $get "$out"; then
    say "$c: FAILED to fetch or prepare (see above); nothing was installed"
    failed+=("$c")
    continue
  fi
  if ! report=$(verify "$c" "$out"); then
    say "$c: the prepared files do not match scripts/corpora/SHA256SUMS:"
    echo "$report" >&2
    rm -rf "$target.unverified"
    mv "$out" "$target.unverified"
    say "$c: NOT installed; the unverified result is in $target.unverified"
    failed+=("$c")
    continue
  fi
  if [ -e "$target" ]; then  # --force: swap the verified folder in, then drop the old one
    mv "$target" "$STAGE/$c.old"
  fi
  mv "$out" "$target"
  rm -rf "$STAGE/$c.old"
  say "$c: verified and installed in $target"
done

if [ ${#failed[@]} -gt 0 ]; then
  die "not installed: ${failed[*]}"
fi
say "done: ${corpora[*]} in $DATA"
