# Sourced by the ensure-* scripts that make a project-local Python environment
# (run from the repository root). Both steps use the pinned uv (scripts/ensure-uv),
# with its cache beside the environments in .tools, so that a package is
# downloaded once and linked into each environment that needs it.
#
#   python_env_create DIR          a fresh virtual environment at DIR, on python3
#   python_env_install DIR PKG...  installs PKG... (pinned specs) into it

export UV_CACHE_DIR="${UV_CACHE_DIR:-$PWD/.tools/uv-cache}"
# Only the machine's python3: uv must not try to download an interpreter.
export UV_PYTHON_DOWNLOADS=never
export UV_NO_PROGRESS=1

python_env_create() {
  local dir="$1" uv
  uv="$(bash scripts/ensure-uv)"
  rm -rf "$dir"
  "$uv" venv --quiet --python "$(command -v python3)" "$dir" >&2
}

python_env_install() {
  local dir="$1" uv
  shift
  uv="$(bash scripts/ensure-uv)"
  "$uv" pip install --quiet --python "$dir/bin/python" "$@" >&2
}
