#!/usr/bin/env bash
# Idempotent set-up for s2f: system tools, .venv, pinned packages, model files.
# Each step checks what is already there, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY="$VENV/bin/python"
PYTHON=${PYTHON:-python3.11}
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages: ffmpeg (ffprobe) for media, espeak-ng and festival with two of its English voices (all in
#    Debian main) for the synthetic voices, chromium and its driver for the browser test of `s2f app`, qemu-user
#    for the test that runs the faces stage on an emulated older CPU.
missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v festival >/dev/null || missing+=(festival)
[ -d /usr/share/festival/voices/english/kal_diphone ] || missing+=(festvox-kallpc16k)
[ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || missing+=(festvox-us-slt-hts)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v qemu-x86_64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "s2f setup: need ${missing[*]} but cannot install them (not root, no sudo)." >&2
    echo "Install them with your package manager, e.g. 'apt-get install ${missing[*]}', then rerun." >&2
    exit 1
  fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "s2f setup: 'apt-get install ${missing[*]}' failed; install them by hand and rerun." >&2
    exit 1
  fi
fi

# 2. The virtual environment.
if ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  command -v "$PYTHON" >/dev/null || { echo "s2f setup: $PYTHON not found; s2f needs Python 3.11 (set PYTHON=...)." >&2; exit 1; }
  step "creating $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

# 3. uv (pinned, in the venv) installs the packages: in parallel, compiling bytecode as pip does (a first Prefect
#    server start would otherwise compile its imports and can outlast its 30 s start-up limit), and without
#    resolving (the lock names every package: --no-deps); several times faster than pip here (docs/benchmarks.md).
UV_VERSION=0.13.9
UV="$VENV/bin/uv"
"$UV" --version 2>/dev/null | grep -q " $UV_VERSION" || "$PY" -m pip install -q "uv==$UV_VERSION"
# uv reads neither pip.conf nor PIP_CERT: hand it the same certificate bundle pip is told to use, if any.
if [ -n "${PIP_CERT:-}" ] && [ -z "${SSL_CERT_FILE:-}" ]; then export SSL_CERT_FILE="$PIP_CERT"; fi

# 4. torch 2.13.0 first and alone: the CPU build. Any other torch request pulls CUDA packages. pip finds the wheel,
#    as its configuration says (a find-links folder, an index); uv installs a CPU build without its dependencies
#    (requirements.lock pins them) in seconds where pip took about 40 s. A wheel that is not a CPU build (a CUDA
#    one, for a GPU machine) is installed by pip as before, with its CUDA packages.
TORCH=2.13.0
if ! "$PY" -c "from importlib.metadata import version; import sys; sys.exit(not version('torch').startswith('$TORCH'))" \
    2>/dev/null; then
  step "installing torch==$TORCH (CPU build)"
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  "$PY" -m pip download -q --no-deps -d "$wheels" "torch==$TORCH"
  wheel=$(ls "$wheels"/torch-*.whl)
  case "$wheel" in
    *+cpu-*) "$UV" pip install -q --python "$PY" --no-deps --compile-bytecode "$wheel" ;;
    *) "$PY" -m pip install -q "torch==$TORCH" ;;
  esac
  rm -rf "$wheels"
fi

# 5. Pinned packages and the project itself, redone only when the lock or pyproject changes; then uv checks that
#    the installed set is consistent (torch's own dependencies included).
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
stamp="$VENV/.s2f-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "installing pinned packages (requirements.lock, with uv $UV_VERSION)"
  "$UV" pip install -q --python "$PY" --no-deps --compile-bytecode -r requirements.lock
  "$UV" pip install -q --python "$PY" --no-deps --no-build-isolation -e .
  "$UV" pip check -q --python "$PY"
  echo "$want" > "$stamp"
fi

# 6. Model files, verified by hash (downloaded only when missing or wrong).
"$PY" -m s2f.blazeface

# 7. Vega, Vega-Lite and Vega-Embed builds, so `s2f plots` writes HTML that renders offline (no CDN).
#    Optional: without npm (or its registry) set-up goes on and `s2f plots` falls back to DVC's CDN page.
VEGA=.cache/vega
VEGA_PACKAGES=(vega@5.30.0 vega-lite@5.21.0 vega-embed@6.26.0)
fetch_vega() {
  local tmp pkg
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "${VEGA_PACKAGES[@]}" >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }
  mkdir -p "$VEGA"
  for pkg in vega vega-lite vega-embed; do
    tar -xzf "$tmp"/"$pkg"-[0-9]*.tgz -C "$tmp" package/build/"$pkg".min.js &&
      mv "$tmp"/package/build/"$pkg".min.js "$VEGA/" || { rm -rf "$tmp"; return 1; }
  done
  rm -rf "$tmp"
}
if [ ! -f "$VEGA/vega-embed.min.js" ]; then
  step "fetching ${VEGA_PACKAGES[*]} (offline plot rendering)"
  if ! command -v npm >/dev/null || ! fetch_vega; then
    echo "s2f setup: could not fetch Vega with npm; 's2f plots' will load it from a CDN instead." >&2
  fi
fi
step "ready"
