//! The addon itself is built once for every Node.js (N-API is ABI-stable). The C++ shim
//! (shim/oom_shim.cc), which speaks V8's C++ API and so depends on the Node major, is its own
//! shared object built per ABI by scripts/build.js (`oom_shim-abi<N>.so`) and bound at load time
//! by src/shim.rs.

fn main() {
    napi_build::setup();
}
