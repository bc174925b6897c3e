//! Password hashing and verification on a small fixed pool of threads.
//!
//! One argon2id hash takes ~19 MiB and ~20 ms of a core. Run on tokio's blocking pool, a
//! flood of logins spreads over hundreds of threads, each allocator arena keeping its
//! 19 MiB afterwards: a login benchmark drove the process past 5 GiB. A pool of one thread
//! per core (at most four) bounds both the memory (one hash in flight per thread, each
//! thread reusing its argon2 working area: see `tessera_auth::password`) and the CPU that
//! logins can take from other requests; excess logins wait in the queue.

use crate::CoreError;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash and verify passwords. They stop when this is dropped.
pub(crate) struct PasswordWorkers {
    jobs: Sender<Job>,
}

/// Most hashing threads, whatever the machine.
const MAX_THREADS: usize = 4;

impl PasswordWorkers {
    pub fn new() -> PasswordWorkers {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            let spawned =
                std::thread::Builder::new().name(format!("tessera-password-{index}")).spawn(move || work(&queue));
            if let Err(error) = spawned {
                tracing::warn!("cannot start a password thread: {error}");
            }
        }
        PasswordWorkers { jobs }
    }

    /// Runs `task` on a password thread and waits for its result.
    pub async fn run<T: Send + 'static>(&self, task: impl FnOnce() -> T + Send + 'static) -> Result<T, CoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(task());
        });
        let stopped = || CoreError::Internal(tessera_store::StoreError::Pool("the password threads stopped".into()));
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the app was dropped
        }
    }
}
