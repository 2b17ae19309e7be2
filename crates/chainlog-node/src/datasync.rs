//! datasyncMany: one fdatasync per descriptor, all of them at once, on threads of this module's
//! own. The engine gathers the fdatasyncs its streams owe into one round (ts/engine/sync-window.ts);
//! through libuv's pool (4 threads unless the application sets UV_THREADPOOL_SIZE) a round of 16
//! or 256 streams would run 4 at a time, and the file system merges concurrent fdatasyncs into
//! one journal commit only when they are in flight together. The round takes one pool thread; the
//! fdatasyncs run on up to MAX_THREADS threads here, kept between rounds.
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Threads that may fdatasync at once (more descriptors queue for them).
const MAX_THREADS: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            idle: 0,
            threads: 0,
        }),
        wake: Condvar::new(),
    })
}

impl Pool {
    /// Queues `job`; starts a thread when none is idle and the cap allows (else it waits its turn).
    fn submit(&'static self, job: Job) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.jobs.push_back(job);
        if s.idle >= s.jobs.len() || s.threads >= MAX_THREADS {
            self.wake.notify_one();
            return;
        }
        s.threads += 1;
        drop(s);
        let started = std::thread::Builder::new()
            .name("chainlog-sync".into())
            .stack_size(64 * 1024)
            .spawn(move || self.work());
        if started.is_err() {
            // No thread to be had: the jobs still run, on the threads there are (or the caller's).
            self.state.lock().unwrap_or_else(|e| e.into_inner()).threads -= 1;
        }
    }

    fn work(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = s.jobs.pop_front() {
                drop(s);
                job();
                s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            s.idle += 1;
            s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            s.idle -= 1;
        }
    }

    /// Runs a queued job on the calling thread, if one is left (so a round never waits on a
    /// queue that no thread serves).
    fn run_one(&self) -> bool {
        let job = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .jobs
            .pop_front();
        match job {
            Some(job) => {
                job();
                true
            }
            None => false,
        }
    }
}

/// The errno of fdatasync(fd), 0 when it succeeded.
#[cfg(unix)]
fn fdatasync(fd: i32) -> i32 {
    use std::os::fd::FromRawFd;
    // Borrowed: the descriptor belongs to a Node FileHandle, which stays open for the round.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    match file.sync_data() {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(5), // EIO when the OS gave no number
    }
}

#[cfg(not(unix))]
fn fdatasync(_fd: i32) -> i32 {
    38 // ENOSYS: the engine does not call datasyncMany off unix (descriptors are CRT numbers there)
}

/// What the round waits on: each descriptor's errno, and how many are still running.
struct Round {
    results: Mutex<(Vec<i32>, usize)>,
    done: Condvar,
}

pub struct DatasyncJob {
    fds: Vec<i32>,
}

impl Task for DatasyncJob {
    type Output = Vec<i32>;
    type JsValue = Int32Array;

    fn compute(&mut self) -> Result<Self::Output> {
        let fds = std::mem::take(&mut self.fds);
        if fds.len() == 1 {
            return Ok(vec![fdatasync(fds[0])]);
        }
        let round = Arc::new(Round {
            results: Mutex::new((vec![0; fds.len()], fds.len())),
            done: Condvar::new(),
        });
        for (i, fd) in fds.into_iter().enumerate() {
            let round = Arc::clone(&round);
            pool().submit(Box::new(move || {
                let errno = fdatasync(fd);
                let mut r = round.results.lock().unwrap_or_else(|e| e.into_inner());
                r.0[i] = errno;
                r.1 -= 1;
                if r.1 == 0 {
                    round.done.notify_all();
                }
            }));
        }
        while pool().run_one() {}
        let mut r = round.results.lock().unwrap_or_else(|e| e.into_inner());
        while r.1 > 0 {
            r = round.done.wait(r).unwrap_or_else(|e| e.into_inner());
        }
        Ok(std::mem::take(&mut r.0))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(Int32Array::new(output))
    }
}

/// fdatasync of every descriptor in `fds`, concurrently; resolves with each one's errno (0: synced).
/// The descriptors must stay open until it resolves.
#[napi(catch_unwind, ts_return_type = "Promise<Int32Array>")]
pub fn datasync_many(fds: Vec<i32>) -> AsyncTask<DatasyncJob> {
    AsyncTask::new(DatasyncJob { fds })
}
