#!/usr/bin/env bash
# Install water into a virtual environment with pip, from this checkout's setup.cfg.
#   installer/install.sh            water itself, in ./.venv
#   installer/install.sh --demo     plus what the demo pipeline's code needs (scikit-learn, pandas)
#   installer/install.sh --test     plus what the test suite needs (and Graphviz, kubectl, openssl via apt-get as root)
#   WATER_VENV=/opt/water installer/install.sh    another place for the environment
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WATER_VENV:-$root/.venv}"
extras=""
for arg in "$@"; do
  case "$arg" in
    --demo) extras="[demo]" ;;
    --test) extras="[test]" ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

python="$(command -v python3.11 || command -v python3 || true)"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info[:3] < (3, 11, 4))'; then
  echo "install.sh: water needs Python 3.11.4 or newer (python3.11 or python3 on PATH)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$root$extras"
if [ "$extras" = "[test]" ]; then
  # The tests draw with Graphviz's real `dot`, read rendered YAML back with a real Go YAML reader (kubectl, Debian's
  # kubernetes-client, offline), make a throwaway TLS certificate with openssl, and run the rendered Sensors' rules
  # with Go's text/template and the sprig and gjson libraries Argo Events uses (tests/argoevents, built offline).
  missing=""
  command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
  command -v go >/dev/null 2>&1 || missing="$missing golang-go"
  [ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || missing="$missing golang-github-masterminds-sprig-dev"
  [ -d /usr/share/gocode/src/github.com/tidwall/gjson ] || missing="$missing golang-github-tidwall-gjson-dev"
  command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
  command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
      echo "install.sh: the tests need these Debian packages:$missing (apt-get install$missing)" >&2
    fi
  fi
fi
echo "water $("$venv/bin/water" --version | awk '{print $NF}') installed in $venv (try: $venv/bin/water --help)"
