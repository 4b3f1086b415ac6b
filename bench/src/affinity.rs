//! Keeping a server and its client on different cores for a measurement.
//!
//! On a two-core machine a single-stream pull is fast when the scheduler puts the server and
//! the receiving client on different cores and about half as fast when it puts them on one
//! (a whole run's repetitions alternate between the two, for every server alike). Pinning
//! both makes the figure the same every time, and matches production, where the client is
//! another machine.

use std::future::Future;

/// The cores this process may run on.
fn allowed_cpus() -> anyhow::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    anyhow::ensure!(
        rc == 0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Restrict thread `tid` (0: the calling thread) to `cpus`.
fn pin_thread(tid: libc::pid_t, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: `cpu` came from `allowed_cpus`, below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    match unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Restrict every thread of process `pid` to `cpus` (threads it starts later inherit it).
fn pin_process(pid: u32, cpus: &[usize]) -> anyhow::Result<()> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Some(tid) = task?.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        match pin_thread(tid, cpus) {
            // A thread that ended since the listing is no concern.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Run the future `client` makes on a thread of its own on one core while every thread of
/// process `server` runs on another; the server gets all its cores back afterwards. With a
/// single core this is simply running the future.
pub async fn apart<F, Fut, T>(server: u32, client: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let cpus = allowed_cpus()?;
    let [server_cpu, client_cpu, ..] = cpus[..] else {
        return client().await;
    };
    pin_process(server, &[server_cpu])?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = pin_thread(0, &[client_cpu])
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
            })
            .and_then(|runtime| runtime.block_on(client()));
        let _ = tx.send(outcome);
    });
    let outcome = rx.await;
    pin_process(server, &cpus)?;
    outcome?
}
