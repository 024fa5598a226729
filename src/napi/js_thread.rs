//! Work that other threads hand to the JS thread: V8 lets only the thread that runs JavaScript take
//! a heap snapshot or read `process.memoryUsage()`, but GCs and memory limits are noticed
//! elsewhere (in V8's GC epilogue, on the memory watch thread). A [`Wake`] queues a Rust closure on
//! the JS thread through a weak threadsafe function, so that it never keeps the event loop alive.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Result, Status};

type Tsfn = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Runs its closure on the JS thread each time [`Wake::wake`] is called, from any thread.
pub struct Wake(Tsfn);

impl Wake {
    /// Must be called on the JS thread. `run` gets the thread's `Env`.
    pub fn new(env: &Env, name: &str, run: impl Fn(&Env) -> Result<()> + 'static) -> Result<Wake> {
        let function =
            env.create_function_from_closure::<(), (), _>(name, move |ctx| run(ctx.env))?;
        let tsfn = function
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        Ok(Wake(tsfn))
    }

    /// Queues the closure; never blocks (safe inside V8's GC epilogue: no V8 call).
    pub fn wake(&self) {
        self.0.call((), ThreadsafeFunctionCallMode::NonBlocking);
    }
}
