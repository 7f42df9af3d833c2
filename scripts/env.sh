# Sourced by the scripts: points ort's load-dynamic at the ONNX Runtime that setup.sh unpacked,
# and the tests at the Python venv with onnx for generated fixtures.
_bw_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for _so in "$_bw_root"/.deps/onnxruntime/libonnxruntime.so*; do
  [ -f "$_so" ] && export ORT_DYLIB_PATH="$_so"
done
[ -x "$_bw_root/.deps/venv/bin/python" ] && export BANWATCH_PYTHON="$_bw_root/.deps/venv/bin/python"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
unset _bw_root _so
